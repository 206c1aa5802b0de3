"""Issue 23, the text-enable path (hosted SMS) in a real browser: staff choose "Text-enable the
existing line" with the published number, start the order, Twilio (the sandbox's control, as
`scripts/dev` offers it) asks for the authorization and completes the order, and the clinic's
published number becomes its texting number. At 1366 and 390 px; screenshots under
artifacts/screenshots/ (text-enable-*.png)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from clinics.models import BusinessProfile, HostedOrder
from tests.browser.chromium import BrowserTestCase
from tests.factories import ClinicFactory
from tests.telephony.a2p.conftest import business_profile_data

pytestmark = pytest.mark.browser


@pytest.fixture
def _hosted_for_browser(request, sandbox, settings):
    settings.TWILIO_HOSTED_SMS_ENABLED = True
    request.cls.sandbox = sandbox


@pytest.mark.usefixtures("_hosted_for_browser")
class TextEnablePathTests(BrowserTestCase):
    def no_sideways_scroll(self) -> None:
        overflow = self.browser.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{overflow}px wider than the window"

    def move(self, status: str) -> None:
        sid = HostedOrder.objects.get().sid
        self.sandbox._call("POST", "hosted-order-status", {"sid": sid, "status": status})
        self.click_and_wait("#text-enable-check-button")

    def test_text_enable_the_published_line_to_completion(self) -> None:
        get_user_model().objects.create_superuser("lead", "", "pw-lead-1234567")
        clinic = ClinicFactory(name="Lake Dental")
        BusinessProfile.objects.create(clinic=clinic, **business_profile_data())
        self.browser.set_window_size(1366, 1400)
        self.login("lead", "pw-lead-1234567")
        self.go(f"/admin/clinics/clinic/{clinic.pk}/change/")

        self.click_and_wait("#onboarding-path-button")
        self.find("input[value=text_enable]").click()
        self.find("#id_published_number").send_keys("(512) 555-7000")
        self.click_and_wait("#onboarding-path-submit")
        body = self.text()
        assert "calls stay with its carrier" in body and "press Text-enable the line" in body
        assert "provision-button" not in self.browser.page_source
        self.shot("text-enable-01-chosen-1366")

        self.click_and_wait("#text-enable-button")
        assert "texting for the published number is ordered" in self.text()
        self.move("pending-loa")
        body = self.text()
        assert "Sign the authorization: Twilio e-mailed it to dana@austinsmiles.example.com" in body
        assert "ready for e-signature" in body
        self.shot("text-enable-02-sign-1366")
        self.browser.set_window_size(390, 1400)
        self.no_sideways_scroll()
        self.shot("text-enable-03-sign-390")

        self.move("completed")
        body = self.text()
        assert "completed: texts to the number reach the clinic" in body and "3/10 done" in body
        clinic.refresh_from_db()
        assert clinic.twilio_number == "+15125557000"
        self.no_sideways_scroll()
        self.shot("text-enable-04-completed-390")
        self.browser.set_window_size(1366, 1400)
        self.shot("text-enable-05-completed-1366")
