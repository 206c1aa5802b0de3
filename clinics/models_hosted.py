"""A clinic's hosted SMS order: its existing line text-enabled at Twilio while calls stay
with its carrier (the onboarding path "Text-enable the existing line"). Changed only by
clinics.services.hosted; followed by telephony.numbers.hosted."""

from django.db import models
from django.utils import timezone

# Twilio's order statuses (numbers v2 HostedNumberOrder `status`), in words for staff, and
# the next human action each asks for. Raw tokens stay in the history's detail.
HOSTED_STATUS_WORDS: dict[str, str] = {
    "": "being placed at Twilio",
    "twilio-processing": "with Twilio, being processed",
    "received": "received by Twilio",
    "pending-verification": "waiting for the number's ownership to be verified",
    "verified": "ownership verified",
    "pending-loa": "waiting for the authorization to be signed",
    "carrier-processing": "with the number's carrier",
    "testing": "being tested by Twilio",
    "completed": "completed: texts to the number reach the clinic",
    "failed": "failed",
    "action-required": "waiting for action",
}
HOSTED_FINAL = frozenset({"completed", "failed"})


class HostedOrder(models.Model):
    """The clinic's one hosted SMS order (one per number: `phone_number` is unique).

    The row is written (the intent) before the order is placed at Twilio, so a retried task
    or a second click finds the order Twilio made by number or friendly name instead of
    ordering twice. `sid` is "" until then; `status` is Twilio's token ("" before)."""

    clinic = models.OneToOneField("clinics.Clinic", on_delete=models.CASCADE, related_name="hosted_order")
    phone_number = models.CharField(max_length=16, unique=True)
    friendly_name = models.CharField(max_length=64)
    sid = models.CharField(max_length=34, blank=True)
    status = models.CharField(max_length=24, blank=True)
    failure_reason = models.TextField(blank=True)
    # The authorization document (LOA) Twilio made for the signer (PX...), once it did.
    signing_document_sid = models.CharField(max_length=34, blank=True)
    requested_at = models.DateTimeField(default=timezone.now)
    status_changed_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "hosted SMS order"

    def __str__(self) -> str:
        return f"{self.phone_number}: {self.status_words}"

    @property
    def status_words(self) -> str:
        return HOSTED_STATUS_WORDS.get(self.status, "in a state Twilio added since")
