"""Production settings fail closed: Twilio credentials, the sandbox opt-in, https behind a proxy.

Settings are read once per process, so these tests start Python with a controlled
environment (`django.setup()`, `manage.py check --deploy`, gunicorn's own config dump)
rather than patching settings in this process.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from django.core import checks
from django.test import Client
from twilio.request_validator import RequestValidator

from telephony.checks import SANDBOX_IN_PRODUCTION_ID
from telephony.webhook_paths import SMS_PATH, STATUS_PATH, VOICE_PATH, WEBHOOK_PATHS
from tests.conftest import PUBLIC_BASE_URL
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
    # Seals the subaccounts' auth tokens at rest (TWILIO_SUBACCOUNT_PER_CLINIC is on by default).
    "FIELD_ENCRYPTION_KEY": "cHJvZC1saWtlLWZpZWxkLWtleS1mb3ItdGhlLXRlc3Q=",
}
# Variables of ours that the test process itself has set (the test settings turn the
# sandbox on) and that must not leak into a "production" child.
OURS = ("DJANGO_", "TWILIO_", "API_BASE_URL", "AI_AGENT_", "FIELD_ENCRYPTION_KEY")
SANDBOX_ON = {"TWILIO_SANDBOX": "true", "TWILIO_ACCOUNT_SID": None, "TWILIO_AUTH_TOKEN": None}


def child_environ(env: dict[str, str | None]) -> dict[str, str]:
    """This process's environment without our variables, then PRODUCTION updated by `env` (None unsets)."""
    child = {k: v for k, v in os.environ.items() if not k.startswith(OURS)}
    child.update({k: v for k, v in {**PRODUCTION, **env}.items() if v is not None})
    return child


def run(args: list[str], **env: str | None) -> subprocess.CompletedProcess[str]:
    """Run a Python child in the project root with PRODUCTION updated by `env` (None unsets)."""
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=child_environ(env), capture_output=True, text=True, timeout=120)


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
@pytest.mark.parametrize(
    "env",
    [
        {},  # subaccounts on (the default): their auth tokens are sealed
        # Issue 20: without subaccounts, A2P registration still seals EINs; the published key must never do it.
        {"TWILIO_SUBACCOUNT_PER_CLINIC": "false"},
        # A staging demo on the sandbox Twilio still stores what staff type in (EINs).
        SANDBOX_ON,
    ],
    ids=["subaccounts", "no-subaccounts", "sandbox"],
)
def test_production_refuses_to_start_without_a_field_encryption_key(env):
    refused = python("import django; django.setup()", FIELD_ENCRYPTION_KEY=None, **env)

    assert refused.returncode != 0
    assert "ImproperlyConfigured: FIELD_ENCRYPTION_KEY is not set." in refused.stderr
    assert "Fernet.generate_key()" in refused.stderr  # how to make one


@pytest.mark.no_sandbox
def test_debug_alone_starts_without_a_field_encryption_key():
    probe = "import django; django.setup(); from django.conf import settings; print(settings.FIELD_ENCRYPTION_KEYS)"

    debug = python(probe, FIELD_ENCRYPTION_KEY=None, DJANGO_DEBUG="true")
    production = python(probe)

    assert debug.returncode == 0, debug.stderr
    assert production.returncode == 0, production.stderr
    assert production.stdout.strip() == str([PRODUCTION["FIELD_ENCRYPTION_KEY"]])  # the one-key form
    assert PRODUCTION["FIELD_ENCRYPTION_KEY"] not in debug.stdout and debug.stdout.strip() != "[]"


ROTATED_KEY = "cm90YXRlZC1maWVsZC1rZXktZm9yLXRoZS10ZXN0LTE="


@pytest.mark.no_sandbox
def test_rotation_takes_several_keys_and_refuses_a_one_key_form_left_out_of_them():
    probe = "import django; django.setup(); from django.conf import settings; print(settings.FIELD_ENCRYPTION_KEYS)"
    old = PRODUCTION["FIELD_ENCRYPTION_KEY"]

    rotating = python(probe, FIELD_ENCRYPTION_KEYS=f"{ROTATED_KEY}, {old}")  # FIELD_ENCRYPTION_KEY=old, in the list
    refused = python(probe, FIELD_ENCRYPTION_KEYS=ROTATED_KEY)  # the old key would silently stop opening

    assert rotating.returncode == 0, rotating.stderr
    assert rotating.stdout.strip() == str([ROTATED_KEY, old])  # the first seals
    assert refused.returncode != 0
    assert "FIELD_ENCRYPTION_KEY and FIELD_ENCRYPTION_KEYS are both set, and the list does not hold that key" in refused.stderr
    assert old not in refused.stderr and ROTATED_KEY not in refused.stderr  # no key in the message


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


# ----------------------------------------------------------------- the sandbox, said at each process's start

# Issue 20: gunicorn, the worker and beat started silently on the sandbox with DEBUG off;
# only `check --deploy` said so. Each start path now logs the same check as an error.
START_PATHS = {
    # gunicorn's --check-config loads the WSGI application as a worker does, then exits.
    "The web process (dentsignal.wsgi)": ["-m", "gunicorn", "--check-config", "dentsignal.wsgi"],
    "The web process (dentsignal.asgi)": ["-c", "import dentsignal.asgi"],
    "The Celery worker": ["-m", "celery", "-A", "dentsignal", "worker", "--pool=solo", "--without-gossip", "--without-mingle"],
    "Celery beat": ["-m", "celery", "-A", "dentsignal", "beat", "--schedule={schedule}"],
}
# An in-process broker: the worker and beat start without Redis.
START_ENV = {**SANDBOX_ON, "CELERY_BROKER_URL": "memory://", "LOG_LEVEL": "INFO"}


def start_and_read_stderr(args: list[str], env: dict[str, str | None], until: str, timeout: float = 60) -> str:
    """Start a child as run() does; return its stderr up to the line holding `until` (or exit, or timeout)."""
    proc = subprocess.Popen(
        [sys.executable, *args], cwd=ROOT, env=child_environ(env), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    lines: list[str] = []
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            if until in line:
                break
    finally:
        timer.cancel()
        proc.kill()
        proc.wait(timeout=10)
    return "".join(lines)


@pytest.mark.no_sandbox
@pytest.mark.parametrize("process", START_PATHS)
def test_each_process_logs_an_error_at_start_on_the_sandbox_with_debug_off(process, tmp_path):
    args = [arg.format(schedule=tmp_path / "beat-schedule") for arg in START_PATHS[process]]

    stderr = start_and_read_stderr(args, START_ENV, until=SANDBOX_IN_PRODUCTION_ID)

    [line] = [line for line in stderr.splitlines() if SANDBOX_IN_PRODUCTION_ID in line]
    assert "ERROR" in line and f"{process} is starting: TWILIO_SANDBOX=true with DEBUG off" in line
    assert "published in this project's repository" in line and "Set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN" in line
    assert SANDBOX_AUTH_TOKEN not in stderr


@pytest.mark.parametrize(("debug", "sandbox", "logged"), [(False, True, True), (True, True, False), (False, False, False)])
def test_the_start_check_logs_only_the_sandbox_with_debug_off(settings, caplog, debug, sandbox, logged):
    from telephony.checks import start_checks_log

    settings.DEBUG, settings.TWILIO_SANDBOX = debug, sandbox

    start_checks_log(process="Celery beat")

    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert (errors != []) is logged
    assert all(SANDBOX_IN_PRODUCTION_ID in e for e in errors)


# ----------------------------------------------------------------- https, redirects and the proxy


def signed_post(client: Client, path: str, params: dict[str, str]):
    from django.conf import settings

    params = {**params, "AccountSid": settings.TWILIO_ACCOUNT_SID}
    signature = RequestValidator(settings.TWILIO_AUTH_TOKEN).compute_signature(PUBLIC_BASE_URL + path, params)
    return client.post(path, params, HTTP_X_TWILIO_SIGNATURE=signature)


@pytest.mark.django_db
@pytest.mark.no_sandbox
def test_signed_webhooks_are_answered_not_redirected_with_ssl_redirect_on(settings):
    """Hole 7 of issue 12: a signed POST without X-Forwarded-Proto got a 301."""
    settings.SECURE_SSL_REDIRECT = True
    client = Client()  # plain http, no proxy header
    call = {"CallSid": "CA" + "a" * 32, "From": "+15125550999", "To": "+15125550142", "CallStatus": "ringing"}
    sms = {"MessageSid": "SM" + "a" * 32, "From": "+15125550999", "To": "+15125550142", "Body": "HELP"}
    status = {"CallSid": "CA" + "a" * 32, "CallStatus": "completed"}

    answers = {
        path: signed_post(client, path, params) for path, params in ((VOICE_PATH, call), (SMS_PATH, sms), (STATUS_PATH, status))
    }

    assert {path: r.status_code for path, r in answers.items()} == {VOICE_PATH: 200, SMS_PATH: 200, STATUS_PATH: 204}
    # Everything else still goes to https, and an unsigned webhook is still refused.
    admin = client.get("/admin/login/")
    assert admin.status_code == 301 and admin["Location"].startswith("https://")
    assert client.post(VOICE_PATH, call).status_code == 403


@pytest.mark.no_sandbox
def test_every_webhook_route_is_exempt_from_the_https_redirect(settings):
    """A webhook added later must be added to WEBHOOK_PATHS, which the exemption comes from."""
    from django.urls import URLPattern, get_resolver

    routes = {
        "/" + str(p.pattern)
        for p in get_resolver().url_patterns
        if isinstance(p, URLPattern) and p.callback.__module__ in ("telephony.webhooks.views", "telephony.webhooks.fallbacks")
    }

    def exempt(path: str) -> bool:  # as django.middleware.security.SecurityMiddleware matches
        return any(re.search(pattern, path.lstrip("/")) for pattern in settings.SECURE_REDIRECT_EXEMPT)

    assert routes == set(WEBHOOK_PATHS)
    assert all(exempt(route) for route in routes)
    assert not any(
        exempt(path) for path in ("/admin/login/", "/inbound/voice/x", "/x/inbound/voice", "/api/admin/provision-number")
    )


PROXY_PROBE = f"""
import django
django.setup()
from django.conf import settings
from django.test import Client
client = Client(HTTP_HOST={HOST!r})
with_header = client.get("/no-such-page", HTTP_X_FORWARDED_PROTO="https")
without = client.get("/no-such-page")
print(settings.SECURE_PROXY_SSL_HEADER, with_header.status_code, without.status_code)
"""


@pytest.mark.no_sandbox
@pytest.mark.parametrize(
    ("flag", "expected"),
    [
        # Trusted: the proxy's https is believed (404: the page, not a redirect); plain http still redirects.
        ("true", "('HTTP_X_FORWARDED_PROTO', 'https') 404 301"),
        # Not trusted (the default): anyone could send the header, so it changes nothing.
        (None, "None 301 301"),
        ("false", "None 301 301"),
    ],
)
def test_x_forwarded_proto_is_trusted_only_with_the_flag(flag, expected):
    result = python(PROXY_PROBE, DJANGO_TRUST_X_FORWARDED_PROTO=flag)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected


# ----------------------------------------------------------------- benchmark settings, gunicorn


@pytest.mark.no_sandbox
def test_benchmark_views_exist_only_under_the_benchmarks_settings():
    probe = "import django; django.setup(); from django.urls import resolve; print(resolve('/bench/baseline').func.__name__)"

    production = python(probe)
    bench = python(probe, DJANGO_SETTINGS_MODULE="bench.settings")

    assert production.returncode != 0 and "Resolver404" in production.stderr
    assert bench.returncode == 0 and bench.stdout.strip() == "baseline"


@pytest.mark.no_sandbox
def test_gunicorn_reads_its_timeout_from_the_project_config():
    result = run(["-m", "gunicorn", "--print-config", "dentsignal.wsgi"])

    assert result.returncode == 0, result.stderr
    config = {k.strip(): v.strip() for k, _, v in (line.partition(" = ") for line in result.stdout.splitlines())}
    # Above Twilio's 15 s wait for a webhook, below gunicorn's own default of 30 s.
    assert 15 < int(config["timeout"]) < 30
