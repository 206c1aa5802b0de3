"""Forms shared by the admin pages and the admin API."""

from typing import Any

from django import forms

from .models import Clinic, OnboardingPath, Patient
from .phone import area_code_validate, phone_normalize
from .validators import text_validate_printable


class PhoneNumberField(forms.CharField):
    """A phone number typed in any common national or international format, cleaned to E.164.

    "512-555-7100", "(512) 555-7100" and "+1 512 555 7100" all become "+15125557100"
    (libphonenumber via `phonenumbers`, US by default); anything else gets a sentence.
    """

    def __init__(self, **kwargs: object) -> None:
        kwargs.setdefault("max_length", 30)  # room for spaces and punctuation; stored E.164 is <= 16
        kwargs.setdefault("help_text", "Any format, e.g. 512-555-7100 or +1 512 555 7100; saved as +15125557100.")
        super().__init__(**kwargs)  # type: ignore[arg-type]

    def to_python(self, value: object) -> str:
        text = super().to_python(value) or ""
        return phone_normalize(text) if text else text


class ProvisionNumberForm(forms.Form):
    """How staff look for a clinic's number (area code, city/state, ZIP, digits, near a number),
    the friendly name, and the number picked from the results.

    Voice and SMS are always required of the numbers found (not a choice here). With
    `buying=True` the form must name an area code or a picked number: a picked number
    gives its own area code. With `several=True` (one purchase per clinic of a selection)
    nothing is picked from a list, so the search is by area code alone: the other search
    fields are not offered.
    """

    area_code = forms.CharField(
        required=False,
        max_length=10,
        widget=forms.TextInput(attrs={"size": 5}),
        help_text="Three digits, e.g. 512.",
    )
    in_locality = forms.CharField(
        label="City", required=False, max_length=60, validators=[text_validate_printable], help_text="e.g. Austin"
    )
    in_region = forms.CharField(
        label="State", required=False, max_length=20, widget=forms.TextInput(attrs={"size": 4}), help_text="Two letters, e.g. TX"
    )
    in_postal_code = forms.CharField(
        label="ZIP", required=False, max_length=10, widget=forms.TextInput(attrs={"size": 7}), help_text="Five digits, e.g. 78701"
    )
    contains = forms.CharField(
        label="Number contains",
        required=False,
        max_length=16,
        help_text="Digits (or letters, as on a keypad) the number should contain, e.g. 7100; * matches any one digit.",
    )
    near_number = PhoneNumberField(
        label="Near the number",
        required=False,
        help_text="A number in the clinic's neighbourhood, e.g. its office line 512-555-7100.",
    )
    friendly_name = forms.CharField(
        max_length=50,
        required=False,
        validators=[text_validate_printable],
        help_text="Optional label on the Twilio number; the clinic's name is used when empty. "
        "The clinic's id is always added so the number can be traced back to it.",
    )

    phone_number = PhoneNumberField(
        required=False,
        widget=forms.HiddenInput,
        help_text="Optional: one of the numbers for sale (pick it from the list).",
    )

    SEARCH_FIELDS = ("area_code", "in_locality", "in_region", "in_postal_code", "contains", "near_number")
    SEVERAL_AREA_CODE = (
        "Several clinics at once take an area code: each clinic gets a number in it. "
        "To pick a number by city, ZIP or digits, provision one clinic at a time."
    )

    def __init__(self, *args: object, buying: bool = False, several: bool = False, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.buying, self.several = buying, several
        if several:
            for name in (*self.SEARCH_FIELDS[1:], "phone_number"):
                del self.fields[name]

    def clean_area_code(self) -> str:
        # area_code_validate's ValidationError is the form's error as it is (one wording everywhere).
        value = self.cleaned_data["area_code"]
        return area_code_validate(value) if value else ""

    def clean_in_region(self) -> str:
        value = self.cleaned_data["in_region"].strip().upper()
        if value and not (len(value) == 2 and value.isascii() and value.isalpha()):
            raise forms.ValidationError(f"'{value[:20]}' is not a state: use its two letters, e.g. TX.", code="invalid")
        return value

    def clean_in_postal_code(self) -> str:
        value = self.cleaned_data["in_postal_code"].strip()
        if value and not (len(value) == 5 and value.isascii() and value.isdigit()):
            raise forms.ValidationError(f"'{value[:20]}' is not a ZIP code: five digits, e.g. 78701.", code="invalid")
        return value

    def clean_contains(self) -> str:
        value = self.cleaned_data["contains"].strip().replace("-", "").replace(" ", "")
        if value and not (2 <= len(value) <= 16 and all(ch.isascii() and (ch.isalnum() or ch == "*") for ch in value)):
            raise forms.ValidationError(
                "Enter 2 to 16 digits or letters to look for in the number (* for any one digit), e.g. 7100.", code="invalid"
            )
        return value

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        number, area_code = data.get("phone_number"), data.get("area_code")
        if number and area_code and not number.startswith(f"+1{area_code}"):
            self.add_error("phone_number", f"{number} is not in area code {area_code}.")
        elif self.buying and number and not area_code and "area_code" not in self.errors:
            data["area_code"] = number[2:5]
        elif self.several and not area_code and "area_code" not in self.errors:
            self.add_error("area_code", f"Enter an area code: three digits, for example 512. {self.SEVERAL_AREA_CODE}")
        elif self.buying and not area_code and "area_code" not in self.errors:
            self.add_error("area_code", "Enter an area code: three digits, for example 512 (or pick a number from a search).")
        elif not self.buying and not any(data.get(name) for name in self.SEARCH_FIELDS) and not self.errors:
            self.add_error(
                "area_code",
                "Enter an area code: three digits, for example 512. Or search by city, state, ZIP, "
                "digits the number contains, or a nearby number.",
            )
        return data

    def search_criteria(self) -> dict[str, str]:
        """The search fields as typed and cleaned (empty ones included)."""
        return {name: self.cleaned_data.get(name) or "" for name in self.SEARCH_FIELDS}


class ApiProvisionNumberForm(ProvisionNumberForm):
    """The admin API's body: the clinic plus the provisioning form's fields."""

    clinic_id = forms.IntegerField(min_value=1, max_value=2**63 - 1)

    def __init__(self, *args: object, **kwargs: Any) -> None:
        # The API buys: an area code or a number is needed.
        super().__init__(*args, buying=True, **kwargs)


class ClinicAdminForm(forms.ModelForm):
    """The clinic page's form: the office phone accepted in any common format."""

    office_phone = PhoneNumberField(
        required=False,
        label="Office phone",
        help_text="The clinic's own line, calls fall back to it. Any format, e.g. 512-555-7100; saved as +15125557100.",
    )

    class Meta:
        model = Clinic
        fields = ["name", "office_phone"]


class PatientAdminForm(forms.ModelForm):
    """The patient page's form: the phone accepted in any common format."""

    phone = PhoneNumberField(label="Phone")

    class Meta:
        model = Patient
        fields = ["clinic", "name", "phone", "sms_opted_out"]


class UntickStepForm(forms.Form):
    """Why a checklist step is unticked: kept in the number history with who did it."""

    reason = forms.CharField(
        max_length=300,
        validators=[text_validate_printable],
        widget=forms.TextInput(attrs={"size": 50, "autofocus": True}),
        help_text="For example: the test call went to the old number.",
    )


class OnboardingPathForm(forms.Form):
    """How the clinic's published number comes to reach the agent; the service
    (clinics.services.clinic_onboarding_path_set) checks the choice and the number."""

    path = forms.ChoiceField(label="Path", choices=OnboardingPath.choices, widget=forms.RadioSelect)
    published_number = forms.CharField(
        label="Published number",
        required=False,
        max_length=30,
        widget=forms.TextInput(attrs={"size": 20, "inputmode": "tel"}),
        help_text=(
            "To forward or text-enable: the number patients dial today (website, Google listing). Any format, e.g. 512-555-7000."
        ),
    )


class PortInForm(forms.Form):
    """The losing carrier's customer service record, as on the clinic's bill from that carrier,
    the bill itself and the target date (telephony.numbers.porting_in). The account number and
    the PIN are never rendered back (password inputs) and never stored."""

    customer_name = forms.CharField(
        label="Account holder", max_length=100, validators=[text_validate_printable], help_text="As on the carrier's bill."
    )
    account_number = forms.CharField(
        label="Account number",
        required=False,
        max_length=40,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="The account number with the current carrier, exactly as on its bill.",
    )
    pin = forms.CharField(
        label="Port-out PIN",
        required=False,
        max_length=20,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="The carrier's port-out (transfer) PIN, not a voicemail code.",
    )
    authorized_representative = forms.CharField(
        label="Authorized person", max_length=100, validators=[text_validate_printable], help_text="Who signs the authorization."
    )
    authorized_representative_email = forms.EmailField(label="Their e-mail", help_text="Twilio sends the letter to sign here.")
    street = forms.CharField(label="Service address", max_length=100, validators=[text_validate_printable])
    street_2 = forms.CharField(label="Suite / unit", required=False, max_length=100, validators=[text_validate_printable])
    city = forms.CharField(max_length=60, validators=[text_validate_printable])
    state = forms.RegexField(regex=r"^[A-Za-z]{2}$", max_length=2, help_text="Two letters, e.g. TX.")
    zip = forms.RegexField(label="ZIP", regex=r"^[0-9]{5}$", max_length=5, help_text="Five digits.")
    target_date = forms.DateField(
        widget=forms.DateInput(attrs={"type": "date"}), help_text="At least 7 days ahead (Twilio's rule for US ports)."
    )
    utility_bill = forms.FileField(
        label="Utility bill", help_text="A recent bill (PDF or image, 10 MB at most) showing the account holder and address."
    )

    def clean_state(self) -> str:
        return self.cleaned_data["state"].upper()

    def clean_utility_bill(self) -> Any:
        bill = self.cleaned_data["utility_bill"]
        if bill.size > 10 * 1024 * 1024:
            raise forms.ValidationError("The bill is larger than 10 MB: scan it at a lower resolution.")
        return bill
