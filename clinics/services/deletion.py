"""Deleting a clinic: allowed once nothing at Twilio is left for it, and recorded.

The rule (docs/operations.md, "The clinic's record"): release the number first, then close
the clinic's own Twilio subaccount (the recorded, re-drivable Close step); closing it ends
everything inside at Twilio, its texting registration (profiles, brand, Messaging Service,
campaign) included. The registration's records here go with the clinic; the number history
stays, reachable under Number history, and ends with a "Clinic deleted" event.
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction

from ..models import Clinic, NumberEvent
from ..models_a2p import A2PRegistration
from .rows import clinic_lock


def clinic_delete(*, clinic_id: int, actor: User | None) -> str:
    """Delete the clinic and write its last history event (who, and what became of its
    texting registration at Twilio); return the clinic's name.

    Raises ClinicHoldsNumberError (from the pre_delete guard, clinics.signals) while it
    holds a number or an open subaccount: nothing is deleted then. ClinicNotFound when gone.
    """
    with transaction.atomic():
        clinic = clinic_lock(clinic_id)
        name, detail = clinic.name, _deleted_detail(clinic)
        last_number = (
            NumberEvent.objects.filter(clinic=clinic).exclude(phone_number="").values_list("phone_number", flat=True).first()
        )
        clinic.delete()
        NumberEvent.objects.create(
            clinic=None,
            clinic_name=name,
            kind=NumberEvent.Kind.CLINIC_DELETED,
            phone_number=last_number or "",
            detail=detail,
            actor=actor,
        )
    return name


def _deleted_detail(clinic: Clinic) -> str:
    """What the deletion leaves at Twilio, in words (operators find the rest by friendly name)."""
    registration = A2PRegistration.objects.filter(clinic=clinic).first()
    if registration is None:
        return "Clinic deleted; it had no texting registration."
    if clinic.twilio_account_sid:
        return "Clinic deleted; its texting registration ended at Twilio with its closed subaccount."
    return (
        "Clinic deleted; its texting registration was made on the main Twilio account and stays there: "
        f"delete the Messaging Service named “DentSignal clinic #{clinic.pk} …” in Twilio's Console to end its campaign."
    )
