"""Phone numbers in log records, masked to their last four digits (no patient data in logs).

`MaskPhoneNumbers` is set on every handler in `settings.LOGGING`, so whatever reaches a log
line passes it: our own loggers, Django's (`django.request` with its tracebacks,
`django.server`), Celery's and the twilio SDK's (`twilio.http_client` logs request URLs
and query parameters at INFO). It rewrites the formatted message, the traceback and the
stack of a record whose text holds a phone number, in E.164 (also URL-encoded, `%2B1...`)
or a common US form (`512-555-1234`, `(512) 555-1234`, `512.555.1234`, `5125551234`,
`1 512 555 1234`), to `***1234`.

Message bodies cannot be recognised by a pattern: no logger call passes one (see
docs/patient-data.md, "Logs"), and the log-scrubbing test holds the code to that.
"""

import logging
import re

_PHONE = re.compile(
    r"""
    (?<![\w%+])                                   # not inside a SID, a word or a longer number
    (?:
        (?:\+|%2[bB])\d{7,15}                     # E.164, also URL-encoded: +15125551234, %2B15125551234
      | (?:(?:\+|%2[bB])?1[\s.-]?)?               # US, an optional country code: 1 512..., +1-512...
        (?:\(\d{3}\)|\d{3})[\s.-]?\d{3}[\s.-]?\d{4}  # 512-555-1234, (512) 555-1234, 512.555.1234, 5125551234
    )
    (?!\w)
    """,
    re.VERBOSE,
)
MASK = "***"


def phone_numbers_mask(text: str) -> str:
    """`text` with each phone number in it replaced by `***` and its last four digits."""
    return _PHONE.sub(lambda match: MASK + re.sub(r"\D", "", match.group())[-4:], text)


class MaskPhoneNumbers(logging.Filter):
    """A handler filter that masks phone numbers in a record's message (its arguments
    included), traceback and stack; it never drops a record."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed call: logging reports it when the handler formats it
            return True
        masked = phone_numbers_mask(message)
        if masked != message:
            # The arguments are merged into the message: an argument of any type (a dict, a
            # tuple, an exception) is masked as it would be printed.
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            # Formatters reuse exc_text when it is set, so the masked traceback is what they print.
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = phone_numbers_mask(record.exc_text)
        if record.stack_info:
            record.stack_info = phone_numbers_mask(record.stack_info)
        return True
