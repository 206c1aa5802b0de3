"""Validators for the text staff and scripts type in (names, labels), shared by models and forms."""

import unicodedata

from django.core.exceptions import ValidationError

# Unicode general categories that never belong in a one-line name: Cc (C0 controls, tab and
# line breaks included, DEL, C1 controls), Cs (lone surrogates), Zl/Zp (line and paragraph
# separators). With U+FFFE/U+FFFF they are what breaks TwiML (XML 1.0 forbids most of them),
# hides in admin pages and logs, or splits a log line.
REFUSED_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})
NONCHARACTERS = frozenset("\ufffe\uffff")


def text_validate_printable(value: str) -> None:
    """Raise ValidationError naming the first control character of `value` and where it is.

    For one-line text people see or hear: clinic and patient names, friendly names,
    token names. Letters, digits, punctuation, spaces and emoji of any script pass.
    """
    for position, char in enumerate(value, start=1):
        if unicodedata.category(char) in REFUSED_CATEGORIES or char in NONCHARACTERS:
            raise ValidationError(
                "Remove the control character U+%(code)04X (character %(position)d): "
                "names are shown to staff and read to callers, so only printable characters are allowed.",
                code="control_character",
                params={"code": ord(char), "position": position},
            )
