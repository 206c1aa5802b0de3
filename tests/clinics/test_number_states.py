"""Every allowed and refused transition of a clinic's number, one table.

Rows are the service functions of clinics/services/number_state.py that change a number's state;
columns the state the clinic is in. A cell is the state after the call, or REFUSED
(ClinicNumberError, nothing changed). `failed+number` is a release that failed: the
clinic keeps its number.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from clinics import services
from clinics.models import Clinic, NumberEvent, NumberState
from tests.factories import ClinicFactory

pytestmark = [pytest.mark.django_db, pytest.mark.no_sandbox]

NONE, PROV, ACTIVE, RELEASING, RELEASED, FAILED = (
    NumberState.NONE,
    NumberState.PROVISIONING,
    NumberState.ACTIVE,
    NumberState.RELEASING,
    NumberState.RELEASED,
    NumberState.FAILED,
)
FAILED_WITH_NUMBER = "failed+number"
STATES = (NONE, PROV, ACTIVE, RELEASING, RELEASED, FAILED, FAILED_WITH_NUMBER)
REFUSED = "refused"

HELD_NUMBER, HELD_SID = "+15125550100", "PN" + "a" * 32
NEW_NUMBER, NEW_SID = "+15125550199", "PN" + "b" * 32


def _provision_request(clinic: Clinic) -> object:
    return services.clinic_number_provision_request(clinic_id=clinic.id, area_code="512")


def _provision_begin(clinic: Clinic) -> object:
    return services.clinic_number_provision_begin(clinic_id=clinic.id, area_code="512")


def _reserve(clinic: Clinic) -> object:
    return services.clinic_number_reserve(clinic_id=clinic.id, phone_number=NEW_NUMBER)


def _activate(clinic: Clinic) -> object:
    return services.clinic_number_activate(clinic_id=clinic.id, phone_number=NEW_NUMBER, phone_sid=NEW_SID, webhooks={})


def _provision_fail(clinic: Clinic) -> object:
    return services.clinic_number_provision_fail(clinic_id=clinic.id, error="Twilio refused it.")


def _adopt(clinic: Clinic) -> object:
    return services.clinic_number_adopt(clinic_id=clinic.id, phone_number=NEW_NUMBER, phone_sid=NEW_SID, webhooks={})


def _release_request(clinic: Clinic) -> object:
    return services.clinic_number_release_request(clinic_id=clinic.id)


def _release_begin(clinic: Clinic) -> object:
    return services.clinic_number_release_begin(phone_sid=HELD_SID)


def _released(clinic: Clinic) -> object:
    return services.clinic_number_released(phone_sid=HELD_SID)


def _release_fail(clinic: Clinic) -> object:
    return services.clinic_number_release_fail(phone_sid=HELD_SID, error="Twilio refused it.")


# fmt: off
#                        none       provisioning  active     releasing  released   failed     failed+number
TABLE: dict[Callable[[Clinic], object], tuple[str, ...]] = {
    _provision_request: (PROV,      REFUSED,      REFUSED,   REFUSED,   PROV,      PROV,      REFUSED),
    _provision_begin:   (PROV,      PROV,         REFUSED,   REFUSED,   PROV,      PROV,      REFUSED),
    _reserve:           (REFUSED,   PROV,         REFUSED,   REFUSED,   REFUSED,   REFUSED,   REFUSED),
    _activate:          (ACTIVE,    ACTIVE,       REFUSED,   REFUSED,   ACTIVE,    ACTIVE,    REFUSED),
    _provision_fail:    (NONE,      FAILED,       ACTIVE,    RELEASING, RELEASED,  FAILED,    FAILED),
    _adopt:             (ACTIVE,    REFUSED,      REFUSED,   REFUSED,   ACTIVE,    ACTIVE,    REFUSED),
    _release_request:   (REFUSED,   REFUSED,      RELEASING, REFUSED,   REFUSED,   REFUSED,   RELEASING),
    _release_begin:     (NONE,      PROV,         RELEASING, RELEASING, RELEASED,  FAILED,    RELEASING),
    _released:          (NONE,      PROV,         RELEASED,  RELEASED,  RELEASED,  FAILED,    RELEASED),
    _release_fail:      (NONE,      PROV,         ACTIVE,    FAILED,    RELEASED,  FAILED,    FAILED),
}
# fmt: on

CASES = [
    pytest.param(change, state, expected, id=f"{change.__name__.lstrip('_')}-from-{state}")
    for change, row in TABLE.items()
    for state, expected in zip(STATES, row, strict=True)
]


def clinic_in(state: str) -> Clinic:
    """A clinic in `state`, with the fields that state implies."""
    holds = state in (ACTIVE, RELEASING, FAILED_WITH_NUMBER)
    return ClinicFactory(
        number_state=FAILED if state == FAILED_WITH_NUMBER else state,
        requested_area_code="512" if state != NONE else "",
        twilio_number=HELD_NUMBER if holds else None,
        twilio_number_sid=HELD_SID if holds else None,
    )


def snapshot(clinic: Clinic) -> tuple:
    clinic.refresh_from_db()
    return (clinic.number_state, clinic.twilio_number, clinic.twilio_number_sid, clinic.pending_number, clinic.number_error)


@pytest.mark.parametrize(("change", "state", "expected"), CASES)
def test_number_state_transition(change, state, expected):
    clinic = clinic_in(state)
    before, events_before = snapshot(clinic), NumberEvent.objects.count()

    if expected == REFUSED:
        with pytest.raises(services.ClinicNumberError):
            change(clinic)
        assert snapshot(clinic) == before, "a refused change must change nothing"
        assert NumberEvent.objects.count() == events_before
        return

    change(clinic)

    clinic.refresh_from_db()
    assert clinic.number_state == expected
    if expected != before[0]:
        # Every transition is in the history.
        assert NumberEvent.objects.count() > events_before
    if expected == ACTIVE and before[0] != ACTIVE:
        assert (clinic.twilio_number, clinic.twilio_number_sid) == (NEW_NUMBER, NEW_SID)
    if expected == RELEASED and before[0] != RELEASED:
        assert clinic.twilio_number is None and clinic.twilio_number_sid is None


def test_the_table_covers_every_state():
    assert {s.value for s in NumberState} <= set(STATES)
