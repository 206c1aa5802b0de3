"""Phone number parsing and formatting (libphonenumber via `phonenumbers`)."""

import re

import phonenumbers
from django.core.exceptions import ValidationError

DEFAULT_REGION = "US"
# What a phone number typed by a person may contain: digits, spaces, + ( ) - . /
PHONE_LIKE_RE = re.compile(r"[0-9+()\-. /]{10,30}")
# Part of a number as people type it, e.g. "555-0104" or "(512) 555": digits, spaces, ( ) - . /
PHONE_PART_RE = re.compile(r"[0-9()\-. /]{4,30}")
PHONE_PART_DIGITS = (4, 9)  # fewer is too vague to search; ten or more is a whole number (phone_search_term)


def phone_normalize(value: str, *, region: str = DEFAULT_REGION) -> str:
    """Return `value` as an E.164 string, or raise ValidationError saying why not.

    A number with an extension ("(512) 555-7000 ext 2") is refused with a sentence: E.164
    has no room for it, and saving the number without it would silently ring the wrong desk.
    """
    text = (value or "").strip()
    if not text:
        raise ValidationError("Enter a phone number.", code="required")
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(f"'{text[:40]}' is not a phone number.", code="invalid") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise ValidationError(f"'{text[:40]}' is not a valid phone number.", code="invalid")
    if parsed.extension:
        raise ValidationError(
            f"'{text[:40]}' has an extension ({parsed.extension[:10]}): calls and texts reach only a direct line, "
            "so the extension would be lost. Enter a direct number without an extension.",
            code="extension",
        )
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
    """Return a US/Canada area code as three digits, or raise ValidationError saying what is wrong.

    One specific sentence per kind of mistake (empty, not digits, wrong length, starting
    with 0 or 1, an N11 service code), the same in the admin, the API and the commands.
    Surrounding spaces and parentheses, as in "(512)", are forgiven.
    """
    raw = str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
    text = raw.strip().strip("()").strip()
    shown = text[:20]
    example = "for example 512"
    if not text:
        raise ValidationError(f"Enter an area code: three digits, {example}.", code="required")
    if not text.isascii() or not text.isdigit():
        raise ValidationError(f"'{shown}' is not an area code: an area code is three digits, {example}.", code="invalid")
    if len(text) != 3:
        raise ValidationError(
            f"'{shown}' has {len(text)} digit{'s' if len(text) != 1 else ''}: an area code is three digits, {example}.",
            code="invalid",
        )
    if text[0] in "01":
        raise ValidationError(
            f"{text} is not an area code: an area code is three digits that never start with {text[0]}, {example}.",
            code="invalid",
        )
    if text[1:] == "11":
        raise ValidationError(
            f"{text} is a service code (like 411 or 911), not an area code: an area code is three digits, {example}.",
            code="invalid",
        )
    return text


def phone_search_term(term: str, *, region: str = DEFAULT_REGION) -> str | None:
    """The E.164 form of a search term typed as a phone number in any common format, else None.

    "(512) 555-0103", "512-555-0103", "5125550103", "+1 512 555 0103" all give
    "+15125550103"; a name or a SID gives None.
    """
    text = (term or "").strip()
    if not PHONE_LIKE_RE.fullmatch(text) or sum(ch.isdigit() for ch in text) < 10:
        return None
    try:
        return phone_normalize(text, region=region)
    except ValidationError:
        return None


def phone_search_digits(term: str) -> str | None:
    """The digits of a search term typed as part of a phone number, else None.

    "555-0104", "555 0104" and "(512) 555" give "5550104", "5550104" and "512555", which
    a stored +15125550104 contains; a whole number (phone_search_term), a name or a
    SID gives None.
    """
    text = (term or "").strip()
    digits = "".join(ch for ch in text if ch.isdigit())
    low, high = PHONE_PART_DIGITS
    if not PHONE_PART_RE.fullmatch(text) or not low <= len(digits) <= high or not text.isascii():
        return None
    return digits
