"""Issue 23, the forward path in a real browser: staff choose "Forward the existing line" on
the clinic page with the published number, read the forwarding instructions (with the number
to forward to), and a call Twilio reports as forwarded from the published number (a signed
voice webhook with ForwardedFrom) takes the clinic live. At 1366 and 390 px; screenshots
under artifacts/screenshots/ (forward-*.png)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from clinics import services
from clinics.models import OnboardingPath, path_steps
from tests.browser.chromium import BrowserTestCase
from tests.factories import ActiveClinicFactory
from tests.telephony.webhooks.twilio_requests import VOICE, call_params, signed_post

pytestmark = pytest.mark.browser


class ForwardPathTests(BrowserTestCase):
    def test_forward_the_published_line_to_go_live(self) -> None:
        get_user_model().objects.create_superuser("lead", "", "pw-lead-1234567")
        clinic = ActiveClinicFactory(name="Lake Dental", twilio_number="+15125557200", office_phone="+15125557000")
        for step in path_steps(OnboardingPath.FORWARD)[:-1]:  # bought, tested, registered: as the system ticks them
            services.clinic_checklist_tick(clinic_id=clinic.id, step=step)
        self.browser.set_window_size(1366, 1400)
        self.login("lead", "pw-lead-1234567")
        self.go(f"/admin/clinics/clinic/{clinic.pk}/change/")
        assert "New number · 9/10 done" in self.text()

        self.click_and_wait("#onboarding-path-button")
        self.find("input[value=forward]").click()
        self.find("#id_published_number").send_keys("(512) 555-7000")
        self.shot("forward-01-choose-path-1366")
        self.click_and_wait("#onboarding-path-submit")

        body = self.text()
        assert "Forward the existing line · 9/10 done · next: Set the forwarding:" in body
        assert "*725125557200" in body and "**21*5125557200#" in body
        self.shot("forward-02-instructions-1366")
        self.browser.set_window_size(390, 1400)
        self.no_sideways_scroll()
        self.shot("forward-03-instructions-390")

        # The carrier forwards a patient's call: Twilio's webhook names the published line.
        signed_post(self.client, VOICE, {**call_params(to="+15125557200"), "ForwardedFrom": "+15125557000"})
        self.live_by_forwarded_call("forward-04")
