"""Signal receivers of the clinic domain, connected in ClinicsConfig.ready()."""

from typing import Any

from django.db.models.signals import pre_delete
from django.dispatch import receiver

from .models import Clinic, ClinicHoldsNumberError


@receiver(pre_delete, sender=Clinic, dispatch_uid="clinic_delete_guard")
def clinic_delete_guard(sender: type[Clinic], instance: Clinic, using: str, **kwargs: Any) -> None:
    """Refuse to delete a clinic that holds a number or an open Twilio subaccount: raise
    ClinicHoldsNumberError with Clinic.delete_block_reason.

    A pre_delete receiver, not Clinic.delete(): QuerySet.delete() (the admin's bulk
    delete, a shell) never calls Model.delete(), but Django's deletion collector sends
    pre_delete for every row, inside the delete's transaction and before anything is
    deleted (and a receiver stops the "fast delete" shortcut that would skip it), so
    raising here undoes the whole delete. The row is re-read under lock: the instance
    may be stale, and a provisioning request (which locks the row too) must not slip
    in between this check and the delete.
    """
    current = Clinic.objects.using(using).select_for_update().filter(pk=instance.pk).first()
    reason = current.delete_block_reason() if current is not None else ""
    if current is not None and reason:
        raise ClinicHoldsNumberError(f"Clinic {instance.pk} cannot be deleted: {reason}", {current})
