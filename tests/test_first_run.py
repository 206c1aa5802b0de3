"""The first run on the embedded default, as `scripts/dev` makes it: a fresh SQLite database
migrated, then the demo's admin login and clinic (manage.py demo_setup), with Celery eager
(no broker) and the sandbox Twilio.

Each step runs as scripts/dev runs it, in its own process with only scripts/dev's
environment, on a database file of the test's own (instead of var/dentsignal.sqlite3, which
may be a developer's). So these run the same in either of scripts/test's passes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.no_sandbox


def dev_command(database: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`manage.py <args>` with what scripts/dev exports, and an empty broker: eager Celery."""
    basics = {key: os.environ[key] for key in ("PATH", "HOME", "LANG", "TMPDIR") if key in os.environ}
    env = {
        **basics,
        "DJANGO_DEBUG": "true",
        "TWILIO_SANDBOX": "true",
        "CELERY_BROKER_URL": "",
        "DATABASE_URL": f"sqlite:///{database}",
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_a_fresh_sqlite_database_is_migrated_and_gets_the_demo_login_and_clinic(tmp_path):
    database = tmp_path / "dentsignal.sqlite3"

    migrated = dev_command(database, "migrate", "--noinput", "-v", "0")
    demo = dev_command(database, "demo_setup")
    again = dev_command(database, "demo_setup")

    assert migrated.returncode == 0, migrated.stderr
    assert demo.returncode == 0, demo.stderr
    assert "Admin login: admin / dentsignal-demo" in demo.stdout
    assert "Demo clinic: Demo Dental Austin (id 1) created" in demo.stdout
    # scripts/dev runs it at every start: the second time it changes nothing and says so.
    assert again.returncode == 0, again.stderr
    assert "Admin login: admin (already existed; password unchanged)" in again.stdout
    assert "Demo clinic: Demo Dental Austin (id 1)\n" in again.stdout

    # The demo admin logs in with the printed password alone: DJANGO_DEBUG=true asks no second factor.
    login = dev_command(
        database,
        "shell",
        "-c",
        "from django.test import Client; c = Client(HTTP_HOST='localhost'); "
        "r = c.post('/admin/login/', {'username': 'admin', 'password': 'dentsignal-demo', 'next': '/admin/'}); "
        "print('login', r.status_code, r.get('Location'), c.get('/admin/').status_code)",
    )
    assert "login 302 /admin/ 200" in login.stdout, login.stdout + login.stderr


def _dev_settings(extra: dict[str, str]) -> str:
    """The hosted SMS setting Django reads under scripts/dev's environment (scripts/lib/dev_env.sh)."""
    basics = {key: os.environ[key] for key in ("PATH", "HOME", "LANG", "TMPDIR") if key in os.environ}
    script = (
        "sandbox_port=8765; source scripts/lib/dev_env.sh; "
        f'exec {sys.executable} -c \'import django, os; os.environ.setdefault("DJANGO_SETTINGS_MODULE", '
        '"dentsignal.settings"); django.setup(); from django.conf import settings; '
        "print(settings.TWILIO_SANDBOX, settings.TWILIO_HOSTED_SMS_ENABLED)'"
    )
    ran = subprocess.run(
        ["bash", "-c", script], cwd=ROOT, env={**basics, **extra}, capture_output=True, text=True, timeout=60, check=False
    )
    assert ran.returncode == 0, ran.stderr
    return ran.stdout.strip().splitlines()[-1]


def test_scripts_dev_offers_hosted_sms_with_the_sandbox_only(tmp_path):
    """The sandbox implements hosted orders, so scripts/dev turns the text-enable path on there;
    with real credentials the setting keeps its default (off: Twilio's API is not GA)."""
    database = {"DATABASE_URL": f"sqlite:///{tmp_path / 'd.sqlite3'}", "CELERY_BROKER_URL": ""}
    assert _dev_settings(database) == "True True"
    real = {**database, "TWILIO_ACCOUNT_SID": "AC" + "1" * 32, "TWILIO_AUTH_TOKEN": "t" * 32}
    assert _dev_settings(real) == "False False"
