"""Issue 24: a staff login under production settings needs a second factor, in a browser at
1366 and 390 px: a new staff member enrols an authenticator app after the password (QR code
and key shown once); a wrong code is refused with a sentence and admits nobody; the right
code admits. Screenshots go to artifacts/screenshots/ (i24-*)."""

from __future__ import annotations

import base64

import pytest
from django.contrib.auth import get_user_model
from django.test import override_settings
from django_otp.plugins.otp_totp.models import TOTPDevice

from dentsignal.staff_login import WRONG_CODE
from tests.browser.chromium import BrowserTestCase
from tests.otp import code_for, throttle_passed

pytestmark = pytest.mark.browser
PASSWORD = "pw-staff-login-98765"


@override_settings(STAFF_2FA_REQUIRED=True)  # as with DJANGO_DEBUG off (the test settings switch it off)
class StaffLoginTests(BrowserTestCase):
    def enter_code(self, code: str) -> None:
        self.find("#id_code").send_keys(code)
        self.click_and_wait("#staff-2fa-form input[type=submit]")

    def test_enrolment_then_a_wrong_code_refused_and_the_right_one_admitted(self) -> None:
        users = get_user_model().objects
        users.create_superuser("newcomer", "", PASSWORD)
        veteran = users.create_superuser("veteran", "", PASSWORD)
        device = TOTPDevice.objects.create(user=veteran, name="phone", confirmed=True)

        # A staff member without an authenticator enrols one right after the password.
        self.at(390)
        self.login("newcomer", PASSWORD)
        assert self.browser.current_url.startswith(f"{self.live_server_url}/admin/login/code/")
        assert self.find("#staff-qr img").size["width"] > 100
        self.no_sideways_scroll()
        self.shot("i24-01-enrol-qr-390")
        self.at(1366)
        self.shot("i24-02-enrol-qr-1366")
        secret = self.find("#staff-secret").text.replace(" ", "")
        self.enter_code(code_for(base64.b32decode(secret)))
        assert "Clinics and their phone numbers" in self.text()

        # A wrong code is refused with the sentence: still the code page, and the admin is not open.
        self.browser.delete_all_cookies()
        self.login("veteran", PASSWORD)
        self.enter_code(code_for(device.bin_key, later=30))
        assert WRONG_CODE in self.find("#staff-2fa-error").text
        self.shot("i24-03-wrong-code-1366")
        self.at(390)
        self.no_sideways_scroll()
        self.shot("i24-04-wrong-code-390")
        self.go("/admin/")
        assert "/admin/login/" in self.browser.current_url
        assert "Clinics and their phone numbers" not in self.text()

        # The right code admits.
        self.login("veteran", PASSWORD)
        throttle_passed(device)
        self.enter_code(code_for(device.bin_key))
        assert "Clinics and their phone numbers" in self.text()
        self.no_sideways_scroll()
        self.shot("i24-05-admitted-390")
        self.at(1366)
        self.shot("i24-06-admitted-1366")
