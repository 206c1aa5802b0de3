"""Porting a clinic's published number in (docs/onboarding-paths.md, "Port the number in").

Registered with the app by the import at the end of clinics/models.py. One row per port-in
request we make: the intent is committed (state `requesting`) before Twilio is asked, so a
repeated submit finds the row, and a lost answer is looked up at Twilio before a second
request is made. The losing carrier's PIN and account number are never stored: they go to
Twilio in the request and nowhere else. The state changes live in clinics/services/port_in.py,
the workflow in telephony/numbers/porting_in.py.

    requesting --Twilio answered--> in_review -> waiting_for_signature -> in_progress -> completed
    requesting --Twilio refused--> refused      any open state --> action_required (a number rejected)
    any open state --> canceled / expired       action_required --corrected resubmission--> replaced
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from .phone import phone_validate_e164


class PortInState(models.TextChoices):
    """Ours (`requesting`, `refused`, `replaced`) and Twilio's request statuses, in its API form."""

    REQUESTING = "requesting", "Being requested"
    REFUSED = "refused", "Refused by Twilio"
    IN_REVIEW = "in_review", "In review at Twilio"
    WAITING_FOR_SIGNATURE = "waiting_for_signature", "Waiting for the signature"
    IN_PROGRESS = "in_progress", "In progress with the carrier"
    ACTION_REQUIRED = "action_required", "Action required"
    COMPLETED = "completed", "Completed"
    CANCELED = "canceled", "Canceled"
    EXPIRED = "expired", "Expired"
    REPLACED = "replaced", "Replaced by a corrected request"


# A port that may still move: one per number at a time (the partial unique index below).
PORT_IN_OPEN: tuple[str, ...] = (
    PortInState.REQUESTING,
    PortInState.IN_REVIEW,
    PortInState.WAITING_FOR_SIGNATURE,
    PortInState.IN_PROGRESS,
    PortInState.ACTION_REQUIRED,
)


class NumberPortIn(models.Model):
    """A port-in request of a clinic's published number into its subaccount."""

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.CASCADE, related_name="ports_in")
    phone_number = models.CharField(max_length=16, validators=[phone_validate_e164])
    state = models.CharField(max_length=24, choices=PortInState.choices, default=PortInState.REQUESTING)
    target_date = models.DateField()
    # The customer service record as entered (name, representative, e-mail, address), to
    # prefill a corrected resubmission; never the account number or the PIN.
    losing_carrier = models.JSONField(default=dict, blank=True)
    document_sid = models.CharField(max_length=34, blank=True)
    request_sid = models.CharField(max_length=34, blank=True, db_index=True)
    number_sid = models.CharField(max_length=34, blank=True)
    number_status = models.CharField(max_length=24, blank=True)
    signature_request_url = models.URLField(max_length=500, blank=True)
    rejection_reason = models.CharField(max_length=500, blank=True)
    rejection_reason_code = models.IntegerField(null=True, blank=True)
    # Why Twilio refused the request, or what went wrong last, as a staff sentence.
    error = models.CharField(max_length=500, blank=True)
    # The number the clinic had while it waited, kept (not released) when the port completed.
    temporary_number = models.CharField(max_length=16, blank=True)
    temporary_number_sid = models.CharField(max_length=34, blank=True)
    requested_at = models.DateTimeField(default=timezone.now)
    polled_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["phone_number"], condition=Q(state__in=PORT_IN_OPEN), name="port_in_one_open_per_number"
            )
        ]
        verbose_name = "port-in request"

    def __str__(self) -> str:
        return f"Port-in of {self.phone_number} ({self.get_state_display()})"

    @property
    def is_open(self) -> bool:
        return self.state in PORT_IN_OPEN
