"""Twilio call and message statuses, ranked so that a status only ever moves forward.

Twilio does not promise order or single delivery of status callbacks. A status is
applied only if it ranks above the one stored; terminal statuses rank highest, so a
late `sent` never overwrites `delivered`, and nothing overwrites `failed`.
"""

CALL_STATUS_RANK = {
    "queued": 1,
    "initiated": 2,
    "ringing": 3,
    "in-progress": 4,
    # Terminal: one of these ends the call.
    "completed": 10,
    "busy": 10,
    "no-answer": 10,
    "canceled": 10,
    "failed": 10,
}

MESSAGE_STATUS_RANK = {
    "accepted": 1,
    "scheduled": 2,
    "queued": 3,
    "sending": 4,
    "sent": 5,
    "receiving": 5,
    "received": 6,
    "delivered": 7,
    "read": 8,
    # Terminal failures.
    "undelivered": 10,
    "failed": 10,
    "canceled": 10,
}


def call_status_rank(status: str) -> int:
    """The rank of a call status (0 for one we do not know, which is then stored only if nothing is)."""
    return CALL_STATUS_RANK.get(status, 0)


def message_status_rank(status: str) -> int:
    """The rank of a message status (0 for one we do not know)."""
    return MESSAGE_STATUS_RANK.get(status, 0)
