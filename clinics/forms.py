"""Forms shared by the admin pages and the admin API."""

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from .phone import area_code_validate
from .validators import text_validate_printable


class ProvisionNumberForm(forms.Form):
    """Area code and friendly name for buying a clinic's number."""

    area_code = forms.CharField(
        max_length=3,
        min_length=3,
        help_text="Three digits, e.g. 512. The number is bought in this area code.",
    )
    friendly_name = forms.CharField(
        max_length=50,
        required=False,
        validators=[text_validate_printable],
        help_text="Optional label on the Twilio number; the clinic's name is used when empty. "
        "The clinic's id is always added so the number can be traced back to it.",
    )

    phone_number = forms.CharField(
        max_length=16,
        required=False,
        widget=forms.HiddenInput,
        help_text="Optional: one of the numbers for sale in the area code (pick it from the list).",
    )

    def clean_area_code(self) -> str:
        try:
            return area_code_validate(self.cleaned_data["area_code"])
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages[0], code="invalid") from exc

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        number, area_code = data.get("phone_number"), data.get("area_code")
        if number and area_code and not number.startswith(f"+1{area_code}"):
            self.add_error("phone_number", f"{number} is not in area code {area_code}.")
        return data


class ApiProvisionNumberForm(ProvisionNumberForm):
    """The admin API's body: the clinic plus the provisioning form's fields."""

    clinic_id = forms.IntegerField(min_value=1, max_value=2**63 - 1)


class UntickStepForm(forms.Form):
    """Why a checklist step is unticked: kept in the number history with who did it."""

    reason = forms.CharField(
        max_length=300,
        validators=[text_validate_printable],
        widget=forms.TextInput(attrs={"size": 50, "autofocus": True}),
        help_text="For example: the test call went to the old number.",
    )
