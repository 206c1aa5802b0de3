"""Management commands for operators and scripts."""

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from clinics.models import NumberState
from tests.factories import ClinicFactory

# Real commits: provisioning is enqueued with transaction.on_commit.
pytestmark = pytest.mark.django_db(transaction=True)


def run(*args):
    from io import StringIO

    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_provision_release_and_list(sandbox):
    clinic = ClinicFactory(name="Command Dental")

    out = run("provision_number", str(clinic.id), "512")

    clinic.refresh_from_db()
    assert clinic.number_state == NumberState.ACTIVE
    assert clinic.twilio_number in out and clinic.twilio_number_sid in out

    table = run("list_numbers")
    assert clinic.twilio_number in table and "Command Dental" in table and "ok" in table
    listed = json.loads(run("list_numbers", "--json"))
    assert listed[0]["clinic_id"] == clinic.id and listed[0]["webhooks_ok"] is True

    with pytest.raises(CommandError, match="--yes"):
        run("release_number", "--clinic", str(clinic.id))
    assert len(sandbox.owned_numbers()) == 1

    run("release_number", "--clinic", str(clinic.id), "--yes")
    clinic.refresh_from_db()
    assert clinic.number_state == NumberState.RELEASED
    assert sandbox.owned_numbers() == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("provision_number", "999999", "512"), "No clinic with id 999999"),
        (("provision_number", "CLINIC", "51"), "three digits"),
        (("provision_number", "CLINIC", "'; DROP TABLE clients; --"), "three digits"),
        (("release_number", "--sid", "PNnot-a-sid", "--yes"), "not a phone number SID"),
        (("release_number", "--clinic", "CLINIC", "--yes"), "no number to release"),
        (("update_webhooks", "--clinic", "CLINIC"), "has no number"),
        (("create_api_token", "nobody"), "No user named"),
    ],
)
def test_bad_input_is_a_clear_error_and_buys_nothing(sandbox, args, message):
    clinic = ClinicFactory()
    args = tuple(str(clinic.id) if a == "CLINIC" else a for a in args)

    with pytest.raises(CommandError, match=message):
        run(*args)

    assert sandbox.owned_numbers() == []
    clinic.refresh_from_db()
    assert clinic.number_state == NumberState.NONE


def test_update_webhooks_all_fixes_only_drifted_numbers(sandbox, expected_webhooks):
    clinic = ClinicFactory()
    run("provision_number", str(clinic.id), "512")
    sandbox.seed_numbers([{"phone_number": "+17375550199", "voice_url": "https://old.example.com/voice"}])
    sandbox.requests()

    out = run("update_webhooks", "--all")

    assert "+17375550199" in out
    updates = [r for r in sandbox.api_requests("POST") if "/IncomingPhoneNumbers/" in r["path"]]
    assert len(updates) == 1
    assert all(n["voice_url"] == expected_webhooks["voice"] for n in sandbox.owned_numbers())


@pytest.mark.django_db  # rolls back: needs no real commit (tests/conftest.py checks it)
def test_release_an_orphan_by_sid(sandbox):
    (sid,) = sandbox.seed_numbers([{"phone_number": "+17375550177"}])

    out = run("release_number", "--sid", sid, "--yes")

    assert f"Released {sid}" in out
    assert sandbox.owned_numbers() == []


def test_provision_failure_exits_nonzero_with_the_reason(sandbox):
    sandbox.empty_area_code("907")
    clinic = ClinicFactory()

    with pytest.raises(CommandError, match="907"):
        run("provision_number", str(clinic.id), "907")


@pytest.mark.parametrize("environment", [{}, {"DJANGO_SECRET_KEY": "k" * 50}])
def test_twilio_sign_request_without_debug_prints_the_sentence_alone(environment, tmp_path):
    """Issue 22: without DJANGO_DEBUG the command printed some 40 lines of traceback before the
    setting's sentence. It prints the sentence alone and exits non-zero."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    env = {**keep, "DJANGO_DEBUG": "false", "DJANGO_SETTINGS_MODULE": "dentsignal.settings", **environment}
    done = subprocess.run(
        [sys.executable, str(root / "manage.py"), "twilio_sign_request", "voice"],
        cwd=tmp_path,  # no .env here
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 1
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr and lines[0].endswith(".")
    assert ("DJANGO_SECRET_KEY is not set" if not environment else "TWILIO_AUTH_TOKEN are not set") in lines[0]
