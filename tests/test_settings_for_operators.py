"""What an operator sets (.env.example) matches what settings.py reads, and the Celery
values computed from CELERY_TASK_TIME_LIMIT keep agreeing with each other."""

import json
import os
import re
import subprocess
import sys

import pytest

from tests.openapi import ROOT

pytestmark = pytest.mark.no_sandbox

# Read by settings.py but not an operator's business, with the reason.
NOT_FOR_OPERATORS = {
    "CELERY_VISIBILITY_TIMEOUT": "tests shorten it to see a dead worker's task come back",
}


def _settings_variables() -> set[str]:
    source = (ROOT / "dentsignal/settings.py").read_text()
    return set(re.findall(r'\benv(?:\.\w+)?\(\s*"([A-Z][A-Z0-9_]*)"', source))


def _example_variables() -> set[str]:
    text = (ROOT / ".env.example").read_text()
    return set(re.findall(r"^#? ?([A-Z][A-Z0-9_]*)=", text, flags=re.MULTILINE))


def test_env_example_lists_exactly_what_settings_reads_for_operators():
    read = _settings_variables()
    assert set(NOT_FOR_OPERATORS) <= read, "a NOT_FOR_OPERATORS entry is no longer read by settings.py"

    listed = _example_variables()

    assert listed - read == set(), "listed in .env.example but read by nothing (a knob that does nothing)"
    assert read - set(NOT_FOR_OPERATORS) - listed == set(), "read by settings.py but missing from .env.example"


def _celery_settings(**env: str) -> dict:
    """The Celery values settings.py computes, in a fresh interpreter with this environment."""
    code = (
        "import django; django.setup(); from django.conf import settings as s; import json; "
        "print(json.dumps([s.CELERY_TASK_TIME_LIMIT, s.CELERY_TASK_SOFT_TIME_LIMIT, "
        "s.TASK_RETRY_COUNTDOWN_MAX_SECONDS, s.CELERY_BROKER_TRANSPORT_OPTIONS]))"
    )
    base = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL", "CELERY_VISIBILITY_TIMEOUT")}
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**base, "DJANGO_SETTINGS_MODULE": "dentsignal.test_settings", **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    hard, soft, countdown, transport = json.loads(out.splitlines()[-1])
    return {"hard": hard, "soft": soft, "countdown": countdown, **transport}


@pytest.mark.parametrize("time_limit", ["30", "90", "600"])
def test_celery_limits_and_redelivery_are_computed_from_the_task_time_limit(time_limit):
    c = _celery_settings(CELERY_TASK_TIME_LIMIT=time_limit)

    assert c["hard"] == int(time_limit)
    assert 0 < c["soft"] < c["hard"]
    # A retry waiting for its countdown behind one running task must not be redelivered.
    assert c["visibility_timeout"] > 2 * c["hard"] + c["countdown"]
    sweep = c["unacked_restore_interval"] * c["unacked_restore_throttle"]
    assert 1 <= sweep <= c["visibility_timeout"] / 5, "a dead worker's task must come back soon after it is due"


def test_a_short_visibility_timeout_sweeps_every_second():
    c = _celery_settings(CELERY_VISIBILITY_TIMEOUT="3")

    assert (c["visibility_timeout"], c["unacked_restore_interval"], c["unacked_restore_throttle"]) == (3, 1, 1)


@pytest.mark.parametrize("days", ["0", "abc", "36500"])
def test_a_retention_period_out_of_range_refuses_to_start_with_a_sentence(days):
    base = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL")}
    run = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env={**base, "DJANGO_SETTINGS_MODULE": "dentsignal.test_settings", "MESSAGE_RETENTION_DAYS": days},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert run.returncode != 0
    assert "MESSAGE_RETENTION_DAYS (how many days patients' texts and callers' numbers are kept" in run.stderr
    assert f"from 1 to 3650 (ten years), not {days!r}." in run.stderr
