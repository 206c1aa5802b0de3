"""Staff logins that resist theft: a second factor (django-otp TOTP) with DEBUG off, lockout
after repeated failures (django-axes), idle and absolute session limits, and the admin API
refusing a session that skipped the second factor."""

from __future__ import annotations

import base64
import io
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from clinics.models import Clinic
from dentsignal import session_limits, staff_login
from tests.otp import code_for, throttle_passed

pytestmark = [pytest.mark.no_sandbox, pytest.mark.django_db]
PASSWORD = "a-long-staff-passphrase-42"


@pytest.fixture
def production_logins(settings):
    """The second factor on, as with DJANGO_DEBUG off (the test settings switch it off)."""
    settings.STAFF_2FA_REQUIRED = True
    return settings


@pytest.fixture
def staff() -> User:
    return User.objects.create_superuser(username="dana", email="", password=PASSWORD)


def password_step(client: Client, username: str = "dana", password: str = PASSWORD, next_path: str = "/admin/"):
    return client.post("/admin/login/", {"username": username, "password": password, "next": next_path})


def logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_a_password_alone_logs_nobody_in_a_wrong_code_is_refused_and_the_right_one_admits(production_logins, staff):
    device = TOTPDevice.objects.create(user=staff, name="phone", confirmed=True)
    client = Client()

    after_password = password_step(client, next_path="/admin/clinics/clinic/")
    assert after_password.status_code == 302
    assert after_password["Location"].startswith("/admin/login/code/?next=")
    assert not logged_in(client)
    assert client.get("/admin/").status_code == 302  # still the login page

    wrong = client.post("/admin/login/code/", {"code": code_for(device.bin_key, later=20), "next": "/admin/clinics/clinic/"})
    assert wrong.status_code == 400
    assert staff_login.WRONG_CODE in wrong.content.decode()
    assert not logged_in(client)
    assert client.get("/admin/").status_code == 302
    not_digits = client.post("/admin/login/code/", {"code": "abc"})
    assert staff_login.NOT_A_CODE in not_digits.content.decode()
    too_soon = client.post("/admin/login/code/", {"code": code_for(device.bin_key)})
    assert staff_login.THROTTLED in too_soon.content.decode()
    assert not logged_in(client)
    throttle_passed(device)

    right = client.post("/admin/login/code/", {"code": code_for(device.bin_key), "next": "/admin/clinics/clinic/"})
    assert right.status_code == 302
    assert right["Location"] == "/admin/clinics/clinic/"
    assert logged_in(client)
    assert client.get("/admin/clinics/clinic/").status_code == 200


def test_staff_without_an_authenticator_enrol_one_after_their_password_and_its_secret_is_shown_once(production_logins, staff):
    client = Client()
    password_step(client)

    first = client.get("/admin/login/code/").content.decode()
    second = client.get("/admin/login/code/").content.decode()
    secret_of = lambda page: re.search(r'id="staff-secret">([A-Z2-7 ]+)<', page).group(1).replace(" ", "")  # noqa: E731
    assert 'alt="QR code for your authenticator app"' in first
    assert secret_of(first) != secret_of(second), "a reload makes a new secret; the first is never shown again"
    assert TOTPDevice.objects.filter(user=staff).count() == 1

    stale = client.post("/admin/login/code/", {"code": code_for(base64.b32decode(secret_of(first)))})
    assert stale.status_code == 400
    assert not logged_in(client)
    assert 'id="staff-secret"' not in stale.content.decode(), "a refused code does not show the secret again"

    throttle_passed(TOTPDevice.objects.get(user=staff))
    admitted = client.post("/admin/login/code/", {"code": code_for(base64.b32decode(secret_of(second)))})
    assert admitted.status_code == 302
    assert logged_in(client)
    assert TOTPDevice.objects.get(user=staff).confirmed
    # The next login asks for the code of the confirmed app, no new QR code.
    client.logout()
    password_step(client)
    assert 'id="staff-secret"' not in client.get("/admin/login/code/").content.decode()


def test_the_code_step_sends_nobody_to_another_site(production_logins, staff):
    device = TOTPDevice.objects.create(user=staff, name="phone", confirmed=True)
    client = Client()
    password_step(client, next_path="https://evil.example.net/admin/")

    admitted = client.post("/admin/login/code/", {"code": code_for(device.bin_key), "next": "https://evil.example.net/"})

    assert admitted["Location"] == "/admin/"


def test_the_code_step_expires_a_few_minutes_after_the_password(production_logins, staff):
    TOTPDevice.objects.create(user=staff, name="phone", confirmed=True)
    client = Client()
    password_step(client)
    session = client.session
    too_late = time.time() - production_logins.STAFF_2FA_PENDING_SECONDS - 1
    session[staff_login.PENDING] = {**session[staff_login.PENDING], "at": too_late}
    session.save()

    expired = client.get("/admin/login/code/")
    assert expired["Location"] == "/admin/login/"
    assert staff_login.PENDING_EXPIRED in client.get("/admin/login/").content.decode()


def test_the_admin_api_refuses_a_staff_session_without_its_second_factor(production_logins, staff):
    device = TOTPDevice.objects.create(user=staff, name="phone", confirmed=True)
    clinic = Clinic.objects.create(name="North Dental")
    password_only = Client()
    password_only.force_login(staff)  # a session from before two-factor was required

    refused = password_only.post(
        "/api/admin/provision-number", {"clinic_id": clinic.id, "area_code": "512"}, content_type="application/json"
    )
    assert refused.status_code == 401
    assert "authenticator" in refused.json()["error"]
    assert password_only.get(f"/api/admin/clinics/{clinic.id}/number").status_code == 401
    clinic.refresh_from_db()
    assert clinic.number_state == "none"

    verified = Client()
    password_step(verified)
    verified.post("/admin/login/code/", {"code": code_for(device.bin_key)})
    assert verified.get(f"/api/admin/clinics/{clinic.id}/number").json()["clinic_id"] == clinic.id


def test_a_session_from_before_two_factor_is_sent_to_log_in_again_with_why(production_logins, staff):
    client = Client()
    client.force_login(staff)

    assert client.get("/admin/")["Location"].startswith("/admin/login/")
    page = client.get("/admin/login/").content.decode()
    assert staff_login.TWO_FACTOR_NOW in page
    assert not logged_in(client)


def test_repeated_wrong_passwords_pause_the_login_with_a_sentence_and_the_cool_off_ends_it(settings, staff):
    settings.AXES_FAILURE_LIMIT = 3
    client = Client()
    for _ in range(2):
        assert password_step(client, password="wrong").status_code == 200
    locked = password_step(client, password="wrong")
    assert locked.status_code == 429
    assert "Too many failed logins in a row (3)" in locked.content.decode()
    assert "paused\n  for 15 minutes" in locked.content.decode()

    right_but_locked = password_step(client)
    assert right_but_locked.status_code == 429
    assert not logged_in(client)
    # Another staff member at another address is not affected.
    User.objects.create_user(username="eli", password=PASSWORD, is_staff=True)
    assert password_step(Client(REMOTE_ADDR="10.0.0.9"), username="eli").status_code == 302

    AccessAttempt.objects.update(attempt_time=AccessAttempt.objects.get().attempt_time - settings.AXES_COOLOFF_TIME)
    assert password_step(client).status_code == 302
    assert logged_in(client)


def test_wrong_codes_count_as_failed_logins(production_logins, staff):
    production_logins.AXES_FAILURE_LIMIT = 2
    device = TOTPDevice.objects.create(user=staff, name="phone", confirmed=True)
    client = Client()
    password_step(client)
    client.post("/admin/login/code/", {"code": code_for(device.bin_key, later=40)})
    locked = client.post("/admin/login/code/", {"code": code_for(device.bin_key, later=50)})

    assert locked.status_code == 429
    assert "logins are paused" in locked.content.decode()
    assert client.post("/admin/login/code/", {"code": code_for(device.bin_key)}).status_code == 302  # back to the login
    assert not logged_in(client)


def test_a_login_locked_out_after_its_password_takes_no_code(production_logins, staff):
    production_logins.AXES_FAILURE_LIMIT = 2
    device = TOTPDevice.objects.create(user=staff, name="phone", confirmed=True)
    pending = Client()
    password_step(pending)
    elsewhere = Client()  # the same address: someone else guessing the password meanwhile
    for _ in range(2):
        password_step(elsewhere, password="wrong")

    refused = pending.post("/admin/login/code/", {"code": code_for(device.bin_key)})

    assert refused.status_code == 429
    assert not logged_in(pending)


@pytest.mark.parametrize(
    ("login_ago", "seen_ago", "sentence"),
    [
        (60 * 60, 31 * 60, session_limits.idle_sentence),
        (12 * 3600 + 1, 60, session_limits.max_age_sentence),
    ],
)
def test_a_session_past_its_idle_or_absolute_limit_ends_and_the_login_page_says_why(
    settings, staff, login_ago, seen_ago, sentence
):
    client = Client()
    client.force_login(staff)
    assert client.get("/admin/").status_code == 200
    session = client.session
    session[session_limits.LOGIN_AT] = time.time() - login_ago
    session[session_limits.SEEN_AT] = time.time() - seen_ago
    session.save()

    ended = client.get("/admin/clinics/clinic/")
    assert ended.status_code == 302
    assert ended["Location"].startswith("/admin/login/")
    assert sentence() in client.get(ended["Location"]).content.decode()
    assert not logged_in(client)


def test_activity_keeps_a_session_alive_within_its_limits(staff):
    client = Client()
    client.force_login(staff)
    session = client.session
    session[session_limits.LOGIN_AT] = time.time() - 11 * 3600
    session[session_limits.SEEN_AT] = time.time() - 29 * 60
    session.save()

    assert client.get("/admin/").status_code == 200
    assert time.time() - client.session[session_limits.SEEN_AT] < 5, "the request counts as activity"


def test_password_validators_refuse_weak_passwords_and_accept_the_demo_and_test_ones(staff):
    for weak in ("password", "12345678901", "dana", "short1"):
        with pytest.raises(ValidationError):
            validate_password(weak, user=staff)
    validate_password("dentsignal-demo")
    validate_password(PASSWORD, user=staff)


def test_the_demo_setup_refuses_a_weak_demo_password_and_creates_nobody(settings):
    settings.DEBUG = True
    with pytest.raises(CommandError, match="too weak"):
        call_command("demo_setup", password="12345678")
    assert not User.objects.exists()
    call_command("demo_setup", stdout=io.StringIO())
    assert User.objects.get().check_password("dentsignal-demo")


def test_the_second_factor_follows_debug_and_cannot_be_switched_off_in_production():
    """settings.py read afresh (in a child interpreter) under three environments."""
    code = """
import importlib, os
from django.core.exceptions import ImproperlyConfigured
for debug, required in (("false", ""), ("true", ""), ("false", "false")):
    os.environ.update(DJANGO_DEBUG=debug, STAFF_2FA_REQUIRED=required)
    try:
        import dentsignal.settings as s
        s = importlib.reload(s)
        print(debug, required or "-", s.STAFF_2FA_REQUIRED)
    except ImproperlyConfigured as exc:
        print(debug, required or "-", exc)
"""
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL")},
        "DJANGO_SECRET_KEY": "test-only-secret-key-not-used-anywhere-else-0123456789",
        "FIELD_ENCRYPTION_KEY": "dGVzdC1vbmx5LWZpZWxkLWtleS1uZXZlci1pbi11c2U=",
        "TWILIO_SANDBOX": "true",
    }
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=root, capture_output=True, text=True, check=True, timeout=60)

    assert out.stdout.splitlines() == [
        "false - True",
        "true - False",
        "false false STAFF_2FA_REQUIRED=false is only allowed with DJANGO_DEBUG=true.",
    ]
