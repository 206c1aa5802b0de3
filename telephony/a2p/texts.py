"""What patients text us and what we text them: the keywords we act on, the help and
opt-out wording, and how an appointment's time reads in a text.

The A2P campaign registers these (telephony/a2p/steps.py) and the SMS webhook
answers with them (telephony/webhooks/replies.py), so carriers see the same texts in
both. Keywords match Twilio's defaults: STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT,
OPTOUT, REVOKE opt out (CANCEL is an opt-out at Twilio, never an appointment
cancellation); START, UNSTOP, YES opt back in; HELP, INFO ask for help.
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol

from django.utils import timezone

from clinics.phone import phone_format_national

CONFIRM = {"C", "CONFIRM", "Y"}
RESCHEDULE = {"R", "RESCHEDULE"}
OPT_OUT = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"}
OPT_IN = {"START", "UNSTOP", "YES"}
HELP = {"HELP", "INFO"}


# Our webhook answers STOP and START with nothing: Twilio's Advanced Opt-Out sends its
# default confirmations, which the A2P campaign registers as ours (registration.py).
TWILIO_OPT_OUT_TEXT = (
    "You have successfully been unsubscribed. You will not receive any more messages from this number. "
    "Reply START to resubscribe."
)
TWILIO_OPT_IN_TEXT = (
    "You have successfully been re-subscribed to messages from this number. Reply HELP for help. "
    "Reply STOP to unsubscribe. Msg&Data Rates May Apply."
)


def help_text(clinic_name: str, phone: str) -> str:
    """The answer to HELP/INFO (also registered as the clinic's A2P campaign help message)."""
    return f"{clinic_name}: call us at {phone_format_national(phone)}. Reply STOP to stop texts."


class _Timed(Protocol):
    @property
    def starts_at(self) -> dt.datetime: ...


def appointment_when(appointment: _Timed) -> str:
    """The appointment's local date and time for a text, e.g. 'Tue Dec 1 at 9:30 AM'."""
    local = timezone.localtime(appointment.starts_at)
    return f"{local:%a %b} {local.day} at {local:%I:%M %p}".replace(" 0", " ")
