"""The scans beat runs on every tick over every clinic (issue 25): the re-drive
(REDRIVE_PERIOD_SECONDS), the voice fallback's office-line cache (10 minutes) and the
subaccount tokens' copy (2 minutes). Each keeps a fixed number of queries however many
clinics there are, measured at two sizes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from clinics.models import Clinic, NumberState
from telephony.models import Operation
from telephony.numbers import redrive
from telephony.webhooks import fallbacks, signatures
from tests.factories import ActiveClinicFactory, ClinicFactory

pytestmark = pytest.mark.django_db


def fleet_of(size: int) -> None:
    """`size` clinics with a number in their own subaccount, and as many without one yet,
    one of those in provisioning for a minute (not stuck: nothing to re-send)."""
    for _ in range(size):
        ActiveClinicFactory(twilio_account_token_sealed="sealed-token")
        ClinicFactory()
    Clinic.objects.filter(pk=ClinicFactory().pk).update(
        number_state=NumberState.PROVISIONING, number_state_changed_at=timezone.now() - timedelta(minutes=1)
    )


def queries(scan: Callable[[], int]) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as seen:
        found = scan()
    return len(seen.captured_queries), found


@pytest.mark.parametrize(
    "scan, counts",
    [
        (redrive.stuck_work_resend, lambda n: 0),
        (fallbacks.office_lines_refresh, lambda n: n),
        (signatures.account_tokens_refresh, lambda n: n),
    ],
    ids=["re-drive", "office lines", "subaccount tokens"],
)
def test_a_beat_scan_keeps_its_queries_whatever_the_number_of_clinics(scan, counts):
    Operation.objects.create(task_name="telephony.tasks.update_number_webhooks", args=["PN0"], phone_sid="PN0")  # sent just now
    scan()  # the re-drive's first tick records itself (an insert, later an update)
    fleet_of(3)
    small, found_small = queries(scan)
    fleet_of(12)
    big, found_big = queries(scan)

    assert big == small, (small, big)
    assert (found_small, found_big) == (counts(3), counts(15))
