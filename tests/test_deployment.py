"""Production settings fail closed: Twilio credentials, the sandbox opt-in, the benchmark's views.

Settings are read once per process, so these tests start Python with a controlled
environment (`django.setup()`, `manage.py check --deploy`)
rather than patching settings in this process.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core import checks

from telephony.checks import SANDBOX_IN_PRODUCTION_ID
from twilio_sandbox import SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN

ROOT = Path(__file__).resolve().parents[1]
HOST = "dentsignal.example.com"
# What an operator sets in production (README, Deploying); nothing else.
PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "dentsignal.settings",
    "DJANGO_SECRET_KEY": "prod-like-secret-Xq7#vR2!mK9@tL4$wZ8&nB3*pG6^hJ1%cF5~dS0+aE",
    "DJANGO_DEBUG": "false",
    "DJANGO_ALLOWED_HOSTS": HOST,
    "TWILIO_ACCOUNT_SID": "AC" + "1f" * 16,
    "TWILIO_AUTH_TOKEN": "0123456789abcdef" * 2,
    "API_BASE_URL": f"https://{HOST}",
}
# Variables of ours that the test process itself has set (the test settings turn the
# sandbox on) and that must not leak into a "production" child.
OURS = ("DJANGO_", "TWILIO_", "API_BASE_URL", "AI_AGENT_")
SANDBOX_ON = {"TWILIO_SANDBOX": "true", "TWILIO_ACCOUNT_SID": None, "TWILIO_AUTH_TOKEN": None}


def run(args: list[str], **env: str | None) -> subprocess.CompletedProcess[str]:
    """Run a Python child in the project root with PRODUCTION updated by `env` (None unsets)."""
    child = {k: v for k, v in os.environ.items() if not k.startswith(OURS)}
    for key, value in {**PRODUCTION, **env}.items():
        if value is not None:
            child[key] = value
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=child, capture_output=True, text=True, timeout=120)


def python(code: str, **env: str | None) -> subprocess.CompletedProcess[str]:
    return run(["-c", code], **env)


# ----------------------------------------------------------------- Twilio credentials


@pytest.mark.no_sandbox
@pytest.mark.parametrize(
    ("unset", "sentence"),
    [
        # Hole 1 of issue 12: a token but no SID used to switch to the sandbox silently.
        (["TWILIO_ACCOUNT_SID"], "TWILIO_ACCOUNT_SID is not set."),
        (["TWILIO_AUTH_TOKEN"], "TWILIO_AUTH_TOKEN is not set."),
        (["TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"], "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are not set."),
    ],
)
def test_production_refuses_to_start_without_twilio_credentials(unset, sentence):
    result = python("import django; django.setup()", **dict.fromkeys(unset))

    assert result.returncode != 0
    assert f"ImproperlyConfigured: {sentence}" in result.stderr
    assert "TWILIO_SANDBOX=true" in result.stderr  # how to run on the sandbox instead
    assert SANDBOX_AUTH_TOKEN not in result.stderr


@pytest.mark.no_sandbox
def test_debug_alone_does_not_switch_to_the_sandbox():
    result = python("import django; django.setup()", DJANGO_DEBUG="true", TWILIO_ACCOUNT_SID=None, TWILIO_AUTH_TOKEN=None)

    assert result.returncode != 0
    assert "ImproperlyConfigured: TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are not set." in result.stderr


@pytest.mark.no_sandbox
def test_the_sandbox_with_one_real_credential_is_refused():
    result = python("import django; django.setup()", TWILIO_SANDBOX="true", TWILIO_ACCOUNT_SID=None)

    assert result.returncode != 0
    assert "ImproperlyConfigured: TWILIO_ACCOUNT_SID is not set." in result.stderr


SETTINGS_AND_MODULES = """
import hashlib, json, sys
import django
django.setup()
from django.conf import settings
from django.urls import get_resolver
from dentsignal.wsgi import application  # what gunicorn loads
get_resolver().url_patterns  # every view module the URLs import
print(json.dumps({
    "sandbox": settings.TWILIO_SANDBOX,
    "sid": settings.TWILIO_ACCOUNT_SID,
    "token_sha256": hashlib.sha256(settings.TWILIO_AUTH_TOKEN.encode()).hexdigest(),
    "apps": settings.INSTALLED_APPS,
    "urlconf": settings.ROOT_URLCONF,
    "loaded": sorted(m for m in sys.modules if m.split(".")[0] in ("twilio_sandbox", "bench") or m == "telephony.sandbox"),
}))
"""
SANDBOX_TOKEN_SHA256 = hashlib.sha256(SANDBOX_AUTH_TOKEN.encode()).hexdigest()


@pytest.mark.no_sandbox
def test_production_settings_load_no_sandbox_and_no_benchmark_module():
    result = python(SETTINGS_AND_MODULES)

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["loaded"] == []
    assert report["sandbox"] is False and "twilio_sandbox" not in report["apps"]
    assert report["sid"] == PRODUCTION["TWILIO_ACCOUNT_SID"]
    assert report["token_sha256"] == hashlib.sha256(PRODUCTION["TWILIO_AUTH_TOKEN"].encode()).hexdigest()
    assert report["urlconf"] == "dentsignal.urls"


@pytest.mark.no_sandbox
def test_the_sandbox_is_opt_in_and_then_uses_its_published_credentials():
    result = python(SETTINGS_AND_MODULES, **SANDBOX_ON)

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["sandbox"] is True and "twilio_sandbox" in report["apps"]
    assert report["sid"] == SANDBOX_ACCOUNT_SID and report["token_sha256"] == SANDBOX_TOKEN_SHA256
    assert report["loaded"] == ["twilio_sandbox"]  # the constants only; the server is not imported


@pytest.mark.no_sandbox
def test_the_sandbox_command_exists_only_with_the_sandbox_on():
    production = run(["manage.py", "twilio_sandbox", "--help"])
    sandbox = run(["manage.py", "twilio_sandbox", "--help"], **SANDBOX_ON)

    assert production.returncode != 0 and "Unknown command: 'twilio_sandbox'" in production.stderr
    assert sandbox.returncode == 0 and "--port" in sandbox.stdout


# ----------------------------------------------------------------- check --deploy


@pytest.mark.no_sandbox
def test_check_deploy_is_clean_with_production_settings():
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"])

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.no_sandbox
def test_check_deploy_warns_that_the_sandbox_signs_webhooks_with_a_public_token():
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], **SANDBOX_ON)

    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert f"({SANDBOX_IN_PRODUCTION_ID}) TWILIO_SANDBOX=true with DEBUG off" in output
    assert "published in this project's repository" in output
    assert output.count("(telephony.") == 1  # nothing else of ours


@pytest.mark.no_sandbox
@pytest.mark.parametrize(("debug", "warned"), [(False, True), (True, False)])
def test_the_sandbox_check_runs_with_deploy_checks_only_outside_debug(settings, debug, warned):
    settings.DEBUG, settings.TWILIO_SANDBOX = debug, True

    deploy = [m.id for m in checks.run_checks(include_deployment_checks=True)]
    everyday = [m.id for m in checks.run_checks()]

    assert (SANDBOX_IN_PRODUCTION_ID in deploy) is warned
    assert SANDBOX_IN_PRODUCTION_ID not in everyday  # runserver and migrate stay quiet


# ----------------------------------------------------------------- benchmark settings


@pytest.mark.no_sandbox
def test_benchmark_views_exist_only_under_the_benchmarks_settings():
    probe = "import django; django.setup(); from django.urls import resolve; print(resolve('/bench/baseline').func.__name__)"

    production = python(probe)
    bench = python(probe, DJANGO_SETTINGS_MODULE="bench.settings")

    assert production.returncode != 0 and "Resolver404" in production.stderr
    assert bench.returncode == 0 and bench.stdout.strip() == "baseline"
