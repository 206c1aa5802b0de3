"""Telephony records: API tokens for the admin API (call/message logs live here too)."""

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

from clinics.sealed import SealedTextField
from clinics.validators import text_validate_printable

TOKEN_PREFIX = "ds_"  # noqa: S105 - a prefix, not a secret


def token_hash(raw: str) -> str:
    """SHA-256 of a token: tokens are 256-bit random, so a fast hash is enough."""
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiToken(models.Model):
    """A per-user bearer token for the admin API; only its hash is stored."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True, validators=[text_validate_printable])
    key_hash = models.CharField(max_length=64, unique=True)
    # The first characters, shown to people to tell tokens apart.
    key_prefix = models.CharField(max_length=12)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.key_prefix}… ({self.user})"

    @classmethod
    def issue(cls, *, user, name: str = "") -> tuple["ApiToken", str]:
        """Create a token for `user`; return it and the raw key (shown once, never stored)."""
        raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token = cls.objects.create(user=user, name=name[:100], key_hash=token_hash(raw), key_prefix=raw[:10])
        return token, raw


class CallAnswer(models.TextChoices):
    """Who answered an inbound call, as our voice webhook decided."""

    AGENT = "agent", "Handed to the AI agent"
    OFFICE_LINE = "office_line", "Office line (fallback)"
    MESSAGE = "message", "Spoken message (fallback)"


class CallLog(models.Model):
    """One call to (or status of) a clinic's number; statuses only move forward."""

    call_sid = models.CharField(max_length=34, unique=True)
    clinic = models.ForeignKey("clinics.Clinic", null=True, blank=True, on_delete=models.SET_NULL, related_name="calls")
    from_number = models.CharField(max_length=32, blank=True)
    to_number = models.CharField(max_length=32, blank=True)
    direction = models.CharField(max_length=24, blank=True)
    status = models.CharField(max_length=20, blank=True)
    status_rank = models.PositiveSmallIntegerField(default=0)
    sequence_number = models.IntegerField(null=True, blank=True)
    duration_seconds = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    # These columns have database defaults too, so that an INSERT naming only the call's
    # own columns (another tool, bench/urls.py's one-write reference) still works.
    # How our voice webhook answered (recorded while the clinic's "test inbound call" step
    # is open: that is when staff need to know), and why, when it was not the agent.
    answered_by = models.CharField(max_length=12, choices=CallAnswer.choices, blank=True, default="", db_default="")
    fallback_reason = models.CharField(max_length=200, blank=True, default="", db_default="")
    # The AI agent's stream, from its statusCallback (or a ConversationRelay session's end):
    # the furthest event so far (forward only, by stream_status_rank), when it started
    # (the proof the agent answered), and the last error Twilio reported.
    stream_status = models.CharField(max_length=20, blank=True, default="", db_default="")
    stream_status_rank = models.PositiveSmallIntegerField(default=0, db_default=0)
    stream_sid = models.CharField(max_length=40, blank=True, default="", db_default="")
    stream_started_at = models.DateTimeField(null=True, blank=True, default=None)
    stream_error = models.CharField(max_length=300, blank=True, default="", db_default="")
    # Retention (telephony/retention/): when the row was redacted here, past MESSAGE_RETENTION_DAYS,
    # and when Twilio's copy was (or was found gone); the last time Twilio was asked and, while
    # not done, why (a message not final yet, error 20009, is asked again on a later run).
    redacted_at = models.DateTimeField(null=True, blank=True, editable=False)
    twilio_redacted_at = models.DateTimeField(null=True, blank=True, editable=False)
    twilio_redaction_tried_at = models.DateTimeField(null=True, blank=True, editable=False)
    twilio_redaction_error = models.CharField(max_length=300, blank=True, default="", db_default="", editable=False)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["redacted_at", "created_at"], name="calllog_retention")]

    def __str__(self) -> str:
        return self.call_sid


class MessageLog(models.Model):
    """One SMS in or out of a clinic's number; inbound ones keep the reply we gave."""

    class Direction(models.TextChoices):
        INBOUND = "inbound", "Inbound"
        OUTBOUND = "outbound", "Outbound"

    message_sid = models.CharField(max_length=34, unique=True)
    clinic = models.ForeignKey("clinics.Clinic", null=True, blank=True, on_delete=models.SET_NULL, related_name="messages")
    patient = models.ForeignKey("clinics.Patient", null=True, blank=True, on_delete=models.SET_NULL, related_name="messages")
    appointment = models.ForeignKey(
        "clinics.Appointment", null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    direction = models.CharField(max_length=8, choices=Direction.choices, default=Direction.INBOUND)
    from_number = models.CharField(max_length=32, blank=True)
    to_number = models.CharField(max_length=32, blank=True)
    # The patient's text and our reply are sealed at rest (clinics.sealed): the columns hold
    # Fernet tokens, written so by the webhooks' compiled statements too, and cannot be
    # searched or filtered by value.
    body = SealedTextField(blank=True)
    # What the reply handler did (confirmed, reschedule, opt_out, opt_in, help, inbox, ...).
    action = models.CharField(max_length=20, blank=True)
    reply = SealedTextField(blank=True)
    # Free-text replies wait in the clinic's inbox until staff read them.
    needs_reading = models.BooleanField(default=False, db_index=True)
    status = models.CharField(max_length=20, blank=True)
    status_rank = models.PositiveSmallIntegerField(default=0)
    error_code = models.IntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    # Retention (telephony/retention/): when the row was redacted here, past MESSAGE_RETENTION_DAYS,
    # and when Twilio's copy was (or was found gone); the last time Twilio was asked and, while
    # not done, why (a message not final yet, error 20009, is asked again on a later run).
    redacted_at = models.DateTimeField(null=True, blank=True, editable=False)
    twilio_redacted_at = models.DateTimeField(null=True, blank=True, editable=False)
    twilio_redaction_tried_at = models.DateTimeField(null=True, blank=True, editable=False)
    twilio_redaction_error = models.CharField(max_length=300, blank=True, default="", db_default="", editable=False)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["redacted_at", "created_at"], name="messagelog_retention")]

    def __str__(self) -> str:
        return self.message_sid


class AuditRun(models.Model):
    """One run of the number audit (telephony.numbers.audit), shown on the admin's Number audit page."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    status = models.CharField(max_length=8, choices=Status.choices, default=Status.RUNNING)
    progress = models.CharField(max_length=200, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # AuditResult.as_dict() plus the configuration findings.
    result = models.JSONField(default=dict, blank=True)
    # The sweep's progress over the accounts (the main account and every active subaccount).
    accounts_total = models.PositiveIntegerField(default=0)
    accounts_done = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-started_at"]
        verbose_name = "number audit"
        verbose_name_plural = "number audit"
        # Viewing the page is the default "view" permission; running and adopting are powers.
        # Fixing webhooks from the audit is clinics.update_number_webhooks, as on the clinic.
        permissions = [
            ("run_number_audit", "Can run the number audit"),
            ("adopt_number", "Can adopt an orphan Twilio number for a clinic"),
        ]

    def __str__(self) -> str:
        return f"Audit {self.started_at:%Y-%m-%d %H:%M} ({self.status})"


class AccountAudit(models.Model):
    """What one Twilio account held when the audit's sweep last listed it: its numbers and
    its Messaging Services' overrides (inventory.AccountListing.as_json). Kept per account so
    that an interrupted sweep goes on where it stopped (the accounts its run already listed
    are not listed again) and a clinic's own audit re-lists its account alone."""

    account_sid = models.CharField(max_length=34, unique=True)
    sweep = models.ForeignKey(AuditRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    listed_at = models.DateTimeField()
    listing = models.JSONField(default=dict)

    def __str__(self) -> str:
        return f"{self.account_sid} listed {self.listed_at:%Y-%m-%d %H:%M}"


class LogWriteFailure(models.Model):
    """How many writes of a webhook log (call or message) failed, and the last one.

    A voice webhook answers the caller even when its log write fails; this count (and
    the ERROR log line) keeps that from going unnoticed: telephony_doctor reports it.
    """

    log = models.CharField(max_length=20, unique=True)  # telephony.webhooks.hot_path.CALL_LOG / MESSAGE_LOG
    count = models.PositiveBigIntegerField(default=0)
    last_sid = models.CharField(max_length=34, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    last_failed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.log}: {self.count} failed write(s)"


class Operation(models.Model):
    """Twilio work sent to the task queue that no clinic's number state tracks: a webhook
    reset, an orphan's release, an adoption, a move into a subaccount (telephony.operations).

    Written in the same transaction as the request, before the send, and kept until its
    task records how the work ended: beat's re-drive sends it again at its next tick when
    the send failed (task queue down or hung), or NUMBER_STUCK_AFTER_SECONDS after the
    last send when the task was lost on the way. Its task and arguments identify it.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for its task"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    task_name = models.CharField(max_length=100)
    args = models.JSONField(default=list)
    clinic = models.ForeignKey("clinics.Clinic", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    phone_number = models.CharField(max_length=16, blank=True)
    phone_sid = models.CharField(max_length=34, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    requested_at = models.DateTimeField(default=timezone.now)
    # When it was last handed to the task queue (on commit of the request, or by the re-drive).
    sent_at = models.DateTimeField(default=timezone.now)
    # When that send failed: the re-drive sends it again at its next tick.
    send_failed_at = models.DateTimeField(null=True, blank=True)
    resends = models.PositiveIntegerField(default=0)
    finished_at = models.DateTimeField(null=True, blank=True)
    # How it ended, in the task's words: what was done, or an error staff can act on.
    outcome = models.TextField(blank=True)

    class Meta:
        ordering = ["-requested_at"]
        indexes = [models.Index(fields=["status", "sent_at"], name="operation_status_sent")]

    def __str__(self) -> str:
        return f"{self.task_name.rsplit('.', 1)[-1]} {self.phone_number or self.phone_sid} ({self.status})"


class RedriveTick(models.Model):
    """When beat's re-drive last ran to its end (a single row; telephony.operations). A tick
    that finds it more than 1.5 periods back knows an outage came between (task queue,
    database or workers away), and sends again what was in flight before it."""

    ran_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"Re-drive ran at {self.ran_at:%Y-%m-%d %H:%M:%S}"
