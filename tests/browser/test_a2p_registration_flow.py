"""A2P 10DLC registration in a real browser: staff fill the clinic's business profile, start
registration, the sandbox Twilio approves (its loopback review control, as a developer
does in `scripts/dev`), staff check the reviews, and the clinic page shows the pipeline at
"campaign approved", the number in the clinic's Messaging Service and the SMS test no longer
waiting. Screenshots under artifacts/screenshots/ (a2p-*.png)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from selenium.webdriver.common.by import By
from selenium.webdriver.support.select import Select

from clinics.models import Clinic, OnboardingStep
from clinics.models_a2p import A2PRegistration, BusinessProfile
from telephony import twilio_service
from tests.browser.chromium import BrowserTestCase
from tests.factories import ClinicFactory
from tests.telephony.a2p.conftest import EIN, PRIMARY_PROFILE, business_profile_data

pytestmark = pytest.mark.browser

SELECTS = ("business_type", "rep_position", "use_case")


@pytest.fixture
def _a2p_for_browser(request, sandbox, settings):
    settings.API_BASE_URL = "https://dentsignal.example.com"
    settings.TWILIO_PRIMARY_CUSTOMER_PROFILE_SID = PRIMARY_PROFILE
    request.cls.sandbox = sandbox


@pytest.mark.usefixtures("_a2p_for_browser")
class A2PRegistrationFlowTests(BrowserTestCase):
    def _checklist_row(self, step: str) -> str:
        return self.browser.find_element(By.CSS_SELECTOR, f"ol.checklist li[data-step='{step}']").text

    def _scroll_to(self, css: str) -> None:
        self.browser.execute_script(f"document.querySelector({css!r}).scrollIntoView(); window.scrollBy(0, -160)")

    def _check_reviews(self, profile: BusinessProfile) -> None:
        self.go("/admin/clinics/businessprofile/")
        self.find(f"input[name=_selected_action][value='{profile.pk}']").click()
        Select(self.find("select[name=action]")).select_by_value("check_reviews")
        self.click_and_wait("button[name=index]")

    def test_staff_register_the_demo_clinic_until_its_campaign_is_approved(self) -> None:
        self.sandbox._call("POST", "a2p-review", {"mode": "manual"})  # reviews wait until we approve below
        clinic = ClinicFactory(name="Demo Dental")
        assert twilio_service.provision_clinic_number(clinic.id, "512")["success"] is True
        clinic.refresh_from_db()
        get_user_model().objects.create_superuser("staff", "", "pw-staff-123456")
        self.login("staff", "pw-staff-123456")

        # 1. The clinic page before: no registration, the SMS test waits for the campaign.
        self.go(f"/admin/clinics/clinic/{clinic.pk}/change/")
        assert "Fill in the business profile, then Start registration." in self.text()
        assert "after:" in self._checklist_row(OnboardingStep.TEST_INBOUND_SMS)
        self.shot("a2p-01-clinic-before-registration")

        # 2. Staff fill the business profile.
        self.go("/admin/clinics/businessprofile/add/")
        Select(self.find("#id_clinic")).select_by_value(str(clinic.pk))
        data = business_profile_data()
        for name, value in data.items():
            if name in SELECTS:
                Select(self.find(f"#id_{name}")).select_by_value(value)
            else:
                field = self.find(f"#id_{name}")
                field.clear()
                field.send_keys(value)
        self.shot("a2p-02-business-profile-form")
        self.click_and_wait("input[name=_save]")
        profile = BusinessProfile.objects.get(clinic=clinic)
        assert profile.ein == EIN
        assert EIN not in self.text() and "••-•••6789" in self.text()
        self.shot("a2p-03-business-profiles-ein-masked")

        # 3. Start registration: the secondary profile goes to Twilio's review.
        self.find(f"input[name=_selected_action][value='{profile.pk}']").click()
        Select(self.find("select[name=action]")).select_by_value("start_registration")
        self.click_and_wait("button[name=index]")
        assert "Registration started" in self.text()
        self.go(f"/admin/clinics/clinic/{clinic.pk}/change/")
        assert "in review at Twilio" in self.text() and "Wait for Twilio" in self.text()
        assert "pending-review" not in self.text()  # the raw status is the operators' detail (History)
        self._scroll_to("ul.a2p-pipeline")
        self.shot("a2p-04-pipeline-in-review")

        # 3b. On the clinic page itself: Check now, and (sandbox mode) the reviewer's Approve/Reject.
        assert self.find("button.a2p-check").text == "Check now"
        self.click_and_wait("button.a2p-approve")
        assert "Approved in the sandbox" in self.text()
        assert A2PRegistration.objects.get(clinic=clinic).customer_profile_status == "twilio-approved"
        for width in (390, 1366):
            self.browser.set_window_size(width, 1400)
            self._scroll_to("div.a2p-buttons")
            self.shot(f"a2p-04b-buttons-{width}")
        self.browser.set_window_size(1280, 1400)

        # 4. The sandbox approves every submitted object (its loopback review control), staff check the reviews.
        self.sandbox._call("POST", "a2p-review", {"mode": "approve", "after_seconds": 0})
        for _ in range(6):
            self._check_reviews(profile)
            if A2PRegistration.objects.get(clinic=clinic).campaign_ready:
                break
        registration = A2PRegistration.objects.get(clinic=clinic)
        assert registration.campaign_ready, registration.error
        self.shot("a2p-05-checked-reviews")

        # 5. The clinic page: every step done in words, the number in the service, SMS test possible.
        self.go(f"/admin/clinics/clinic/{clinic.pk}/change/")
        pipeline = self.browser.find_element(By.CSS_SELECTOR, "ul.a2p-pipeline").text
        assert pipeline.count("✔") == 6, pipeline
        assert "approved" in pipeline and "VERIFIED" not in pipeline and "twilio-approved" not in pipeline
        assert "texts go out through the clinic's Messaging Service" in self.text()
        sms_row = self._checklist_row(OnboardingStep.TEST_INBOUND_SMS)
        assert "after:" not in sms_row and "to do" in sms_row
        assert "✔" in self._checklist_row(OnboardingStep.A2P_CAMPAIGN_APPROVED)
        assert EIN not in self.text()
        self._scroll_to("ul.a2p-pipeline")
        self.shot("a2p-06-pipeline-campaign-approved")
        self._scroll_to("ol.checklist")
        self.shot("a2p-07-checklist-sms-test-possible")

        # The number is in the clinic's Messaging Service, in the clinic's own subaccount (the sandbox's state).
        state = self.sandbox._call("GET", "a2p-state")
        (service,) = [s for s in state["services"] if s["sid"] == registration.messaging_service_sid]
        assert service["_sandbox"]["number_sids"] == [clinic.twilio_number_sid]
        assert service["account_sid"] == Clinic.objects.get(pk=clinic.pk).twilio_account_sid
