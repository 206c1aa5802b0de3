"""Phone number parsing and formatting (libphonenumber via `phonenumbers`)."""

import re

import phonenumbers
from django.core.exceptions import ValidationError

DEFAULT_REGION = "US"
AREA_CODE_RE = re.compile(r"^[2-9][0-9]{2}$")


def phone_normalize(value: str, *, region: str = DEFAULT_REGION) -> str:
    """Return `value` as an E.164 string, or raise ValidationError saying why not."""
    text = (value or "").strip()
    if not text:
        raise ValidationError("Enter a phone number.", code="required")
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(f"'{text[:40]}' is not a phone number.", code="invalid") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise ValidationError(f"'{text[:40]}' is not a valid phone number.", code="invalid")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def phone_validate_e164(value: str) -> None:
    """Model-field validator: the stored value must already be E.164."""
    if value and phone_normalize(value) != value:
        raise ValidationError(f"'{value}' is not in E.164 form (like +15125551234).", code="invalid")


def phone_format_national(value: str) -> str:
    """Format an E.164 number for people, e.g. (512) 555-1234; '' for empty."""
    if not value:
        return ""
    try:
        parsed = phonenumbers.parse(value, DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        return value
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)


def area_code_validate(value: object) -> str:
    """Return a US/Canada area code as three digits, or raise ValidationError."""
    text = str(value).strip() if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
    if not AREA_CODE_RE.match(text):
        raise ValidationError(
            "An area code is three digits and does not start with 0 or 1 (for example 512).",
            code="invalid",
        )
    return text
