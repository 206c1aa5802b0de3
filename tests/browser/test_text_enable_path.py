"""Issue 23, the text-enable path (hosted SMS) with its calls forwarded, in a real browser, to
go-live: staff choose "Text-enable the existing line" with the published number, buy the
forwarding target (Provision number) and read the forwarding instructions, start the order;
the clinic page's sandbox buttons play Twilio's part, as a newcomer does in scripts/dev: the
order moves on to the authorization to sign; a call forwarded from the published line
(ForwardedFrom) proves the forward; the order completes,
the published number becomes the texting number and the bought one the voice number; a text
to the published number is the SMS test, and every step is done. At 1366 and 390 px;
screenshots under artifacts/screenshots/ (text-enable-*.png)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from clinics import services
from clinics.models import TEXTING_STEPS, BusinessProfile, OnboardingStep
from tests.browser.chromium import BrowserTestCase
from tests.factories import ClinicFactory
from tests.telephony.a2p.conftest import business_profile_data
from tests.telephony.webhooks.twilio_requests import SMS, signed_post

pytestmark = pytest.mark.browser


@pytest.fixture
def _hosted_for_browser(request, sandbox, settings):
    settings.TWILIO_HOSTED_SMS_ENABLED = True
    request.cls.sandbox = sandbox


@pytest.mark.usefixtures("_hosted_for_browser")
class TextEnablePathTests(BrowserTestCase):
    def move_on(self, times: int) -> None:
        for _ in range(times):
            self.click_and_wait("#sandbox-hosted-move-button")

    def test_text_enable_and_forward_the_published_line_to_go_live(self) -> None:
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
        assert "calls stay with its carrier, which forwards them" in body and "press Text-enable the line" in body
        self.shot("text-enable-01-chosen-1366")

        # The forwarding target, bought as any number.
        self.click_and_wait("#provision-button")
        self.find("#id_area_code").send_keys("512")
        self.click_and_wait("#search-button")
        self.find("input[name=phone_number]").click()
        self.click_and_wait("#confirm-button")
        self.click_and_wait("#buy-button")
        clinic.refresh_from_db()
        target, digits = clinic.twilio_number, clinic.twilio_number.removeprefix("+1")
        self.go(f"/admin/clinics/clinic/{clinic.pk}/change/")
        forwarding = self.find("#text-enable-forwarding").text
        assert f"*72{digits}" in forwarding and f"**21*{digits}#" in forwarding
        assert "provision-button" not in self.browser.page_source  # one forwarding target
        self.shot("text-enable-02-forwarding-1366")

        self.click_and_wait("#text-enable-button")
        assert "texting for the published number is ordered" in self.text()
        self.move_on(2)  # received, then pending-loa
        body = self.text()
        assert "Sign the authorization: Twilio e-mailed it to dana@austinsmiles.example.com" in body
        assert "ready for e-signature" in body
        self.shot("text-enable-03-sign-1366")
        self.browser.set_window_size(390, 1400)
        self.no_sideways_scroll()
        self.shot("text-enable-04-sign-390")

        # The carrier forwards a patient's call: Twilio's webhook names the published line.
        self.click_and_wait("#sandbox-forwarded-call-button")
        assert "a call to (512) 555-7000 was forwarded to" in self.text()
        for step in (OnboardingStep.TEST_INBOUND_CALL, OnboardingStep.HIPAA_CONFIRMED, *TEXTING_STEPS):  # as ticked
            services.clinic_checklist_tick(clinic_id=clinic.id, step=step)

        self.move_on(2)  # carrier-processing, then completed
        body = self.text()
        assert "completed: texts to the number reach the clinic" in body and "9/10 done" in body
        assert "next: Test an inbound SMS" in body
        clinic.refresh_from_db()
        assert (clinic.twilio_number, clinic.voice_number) == ("+15125557000", target)
        assert f"*72{digits}" in self.find("#text-enable-forwarding").text  # still forwarded to the voice number
        self.no_sideways_scroll()
        self.shot("text-enable-05-completed-390")

        sms = {"MessageSid": "SM" + "c" * 32, "From": "+15125550999", "To": "+15125557000", "Body": "hello"}
        signed_post(self.client, SMS, {**sms, "AccountSid": clinic.twilio_account_sid})
        self.live_by_forwarded_call("text-enable-06")
