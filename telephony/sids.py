"""Twilio SIDs: the one definition of what a well-formed SID looks like."""

import re

# Two capital letters (PN, CA, SM, AC, ...) and 32 hex digits, e.g. PN0123...ef.
SID_RE = re.compile(r"^[A-Z]{2}[0-9a-fA-F]{32}$")


def sid_is_valid(value: object, *, prefix: str | None = None) -> bool:
    """True when `value` is a string shaped like a Twilio SID (with that prefix, if given)."""
    return isinstance(value, str) and SID_RE.fullmatch(value) is not None and (prefix is None or value.startswith(prefix))


def phone_sid_error(value: object) -> str | None:
    """The sentence refusing `value` as a phone number SID (PN...), or None when it is one."""
    if sid_is_valid(value, prefix="PN"):
        return None
    return f"{str(value)[:40]!r} is not a phone number SID (PN followed by 32 hex digits)."
