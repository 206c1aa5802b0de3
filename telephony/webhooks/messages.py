"""Message status callbacks: forward-only, duplicate-safe, and only for the account that
owns the message (telephony/tenants.py)."""

from django.utils import timezone

from telephony.a2p import texting
from telephony.models import MessageLog
from telephony.statuses import message_status_rank
from telephony.tenants import account_check
from telephony.webhooks import hot_path


def message_status_record(*, message_sid: str, status: str, error_code: int | None, signer: str) -> None:
    """Apply a message status callback: forward-only, duplicate-safe, unknown SIDs kept.
    A clinic's message is changed only for the main account or that clinic's (`signer`);
    ForeignAccountError otherwise, before anything is written (telephony.tenants)."""
    now = timezone.now()
    message = {
        "message_sid": message_sid,
        "direction": MessageLog.Direction.OUTBOUND,
        "status": status[:20],
        "status_rank": message_status_rank(status),
        "error_code": error_code,
        "created_at": now,
        "updated_at": now,
    }
    update = ["status", "status_rank", "updated_at"]
    if error_code is not None:
        update.append("error_code")
    if not hot_path.message_status_upsert(message, update=update, signer=signer) and signer:
        owner = hot_path.log_owner_account(MessageLog, sid=message_sid)
        account_check(signer=signer, owner=owner, what=f"Message {message_sid}")
    # Rare path (a failed message): carriers refusing the clinic's texts block them with the reason.
    texting.texting_block_on_failure(message_sid=message_sid, error_code=error_code)
