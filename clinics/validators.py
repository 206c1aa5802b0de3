"""Validators for the text staff and scripts type in (names, labels), shared by models and forms."""

import unicodedata

from django.core.exceptions import ValidationError

# Unicode general categories that never belong in a one-line name: Cc (C0 controls, tab and
# line breaks included, DEL, C1 controls), Cs (lone surrogates), Zl/Zp (line and paragraph
# separators). With U+FFFE/U+FFFF they are what breaks TwiML (XML 1.0 forbids most of them),
# hides in admin pages and logs, or splits a log line.
REFUSED_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})
NONCHARACTERS = frozenset("\ufffe\uffff")
# The explicit bidirectional embeddings, overrides and isolates (LRE, RLE, PDF, LRO, RLO;
# LRI, RLI, FSI, PDI): each reorders the text after it, so a name could read one way on a
# page and be another in search, logs and Twilio ("Trojan Source", CVE-2021-42574). The
# implicit marks LRM, RLM and ALM (U+200E, U+200F, U+061C) stay allowed: they reorder
# nothing by themselves and right-to-left names need them beside digits and punctuation.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def text_validate_printable(value: str) -> None:
    """Raise ValidationError naming the first control character of `value` and where it is.

    For one-line text people see or hear: clinic and patient names, friendly names,
    token names, a business profile's names and address. Letters, digits, punctuation,
    spaces and emoji of any script pass; control characters and the bidirectional
    controls that reorder text do not.
    """
    for position, char in enumerate(value, start=1):
        params = {"code": ord(char), "position": position}
        if char in BIDI_CONTROLS:
            raise ValidationError(
                "Remove the text-direction control U+%(code)04X (character %(position)d): "
                "it makes a name read differently from what is stored, searched and sent to Twilio.",
                code="bidi_control",
                params=params,
            )
        if unicodedata.category(char) in REFUSED_CATEGORIES or char in NONCHARACTERS:
            raise ValidationError(
                "Remove the control character U+%(code)04X (character %(position)d): "
                "names are shown to staff and read to callers, so only printable characters are allowed.",
                code="control_character",
                params=params,
            )
