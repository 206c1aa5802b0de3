"""Staff asking to buy a number, from the admin or the admin API: one workflow for both.

First one search says whether anything is for sale as asked, before any clinic changes;
then each clinic is moved to `provisioning` and its purchase task sent
(provisioning.clinic_number_provision_request), which buys the number.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.contrib.auth.models import User

from clinics import services as clinic_services
from clinics.models import Clinic
from telephony.numbers import provisioning
from telephony.numbers import search as number_search


@dataclass(frozen=True)
class BuyRequested:
    """One clinic's answer to a buy request: `refused` says why it was not requested
    (the clinic is unchanged), None when its purchase is on its way."""

    clinic_id: int
    refused: clinic_services.ClinicNumberError | None = None


def number_buy_request(
    *,
    clinic_ids: Sequence[int],
    area_code: str,
    friendly_name: str = "",
    phone_number: str = "",
    actor: User | None = None,
) -> list[BuyRequested]:
    """Check that something is for sale, then request the purchase for each clinic, in order.

    The check is one search (numbers in the area code, or the picked `phone_number`), made
    when at least one of the clinics may get a number now: a clinic that may not is
    refused by its request without asking Twilio. A definite "nothing to buy" raises
    NothingForSale, and a TwilioError a retry cannot help is raised too, both before any
    clinic changes; a retryable TwilioError is let go: the purchase task searches again
    and retries.
    """
    if any(clinic_services.clinic_number_requestable(clinic) for clinic in Clinic.objects.filter(pk__in=clinic_ids)):
        try:
            number_search.provision_offer_check(area_code=area_code, phone_number=phone_number)
        except number_search.TwilioError as exc:
            if not exc.retryable:
                raise
    requested = []
    for clinic_id in clinic_ids:
        try:
            provisioning.clinic_number_provision_request(
                clinic_id=clinic_id, area_code=area_code, friendly_name=friendly_name, phone_number=phone_number, actor=actor
            )
        except clinic_services.ClinicNumberError as exc:
            requested.append(BuyRequested(clinic_id=clinic_id, refused=exc))
        else:
            requested.append(BuyRequested(clinic_id=clinic_id))
    return requested
