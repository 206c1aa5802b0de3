"""Issue 23, the port-in path in a real browser: staff choose "Port the number in", fill in the
losing carrier's record with the utility bill, the carrier rejects the port (the sandbox's
control API, as Twilio would report it), staff correct and resubmit it, and the completed
port makes the published number the clinic's number. At 1366 and 390 px; screenshots under
artifacts/screenshots/ (port-in-*.png)."""

from __future__ import annotations

import datetime
import tempfile

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from clinics.models import Clinic
from clinics.models_porting import NumberPortIn, PortInState
from tests.browser.chromium import BrowserTestCase
from tests.factories import ClinicFactory
from tests.twilio_sandbox.trust_hub import control_post

pytestmark = pytest.mark.browser

RECORD = {
    "customer_name": "Lake Dental LLC",
    "authorized_representative": "Ana Lopez",
    "authorized_representative_email": "ana@lake.example.com",
    "street": "1 Main St",
    "city": "Austin",
    "state": "TX",
    "zip": "78701",
}


@pytest.fixture
def _sandbox_for_browser(request, sandbox):
    request.cls.sandbox = sandbox


@pytest.mark.usefixtures("_sandbox_for_browser")
class PortInPathTests(BrowserTestCase):
    def fill_and_submit(self, bill: str, *, record: dict[str, str]) -> None:
        for name, value in record.items():
            field = self.find(f"#id_{name}")
            field.clear()
            field.send_keys(value)
        day = timezone.localdate() + datetime.timedelta(days=10)
        self.browser.execute_script(f"document.querySelector('#id_target_date').value = '{day.isoformat()}'")
        self.find("#id_utility_bill").send_keys(bill)
        self.click_and_wait("#port-in-submit")

    def test_a_port_rejected_corrected_and_completed(self) -> None:
        get_user_model().objects.create_superuser("lead", "", "pw-lead-1234567")
        clinic = ClinicFactory(name="Lake Dental")
        bill = tempfile.NamedTemporaryFile(suffix=".pdf", delete=False)
        bill.write(b"%PDF-1.4 bill")
        bill.close()
        self.browser.set_window_size(1366, 1400)
        self.login("lead", "pw-lead-1234567")
        self.go(f"/admin/clinics/clinic/{clinic.pk}/change/")
        self.click_and_wait("#onboarding-path-button")
        self.find("input[value=port_in]").click()
        self.find("#id_published_number").send_keys("(415) 555-0142")
        self.click_and_wait("#onboarding-path-submit")

        # The portability check ran: the form, saying what most rejections are.
        assert "customer service record" in self.text() and "most rejections are a mismatch" in self.text()
        self.browser.set_window_size(390, 1400)
        self.no_sideways_scroll()
        self.shot("port-in-01-form-390")
        self.browser.set_window_size(1366, 1400)
        self.fill_and_submit(bill.name, record=RECORD)
        port = NumberPortIn.objects.get()
        assert "Port the number in · 0/10 done" in self.text()

        # Twilio makes the authorization; the carrier then rejects the account number.
        control_post(self.sandbox, "port-in-status", {"sid": port.request_sid, "status": "waiting_for_signature"})
        self.click_and_wait("#port-in-refresh-button")
        assert "Sign the LOA:" in self.text() and "Ana Lopez" in self.text()
        self.shot("port-in-02-sign-1366")
        reason = "Account number does not match"
        control_post(
            self.sandbox,
            "port-in-number-status",
            {"sid": port.number_sid, "status": "rejected", "rejection_reason": reason, "rejection_reason_code": 6010},
        )
        self.click_and_wait("#port-in-refresh-button")
        body = self.text()
        assert "Fix the request:" in body and reason in body and "correct them on the clinic" in body
        self.browser.set_window_size(390, 1400)
        self.no_sideways_scroll()
        self.shot("port-in-03-rejected-390")

        # Corrected: the record is prefilled, the account number typed again, the port resubmitted.
        self.browser.set_window_size(1366, 1400)
        self.click_and_wait("#port-in-button")
        assert self.find("#id_customer_name").get_attribute("value") == "Lake Dental LLC"
        self.fill_and_submit(bill.name, record={**RECORD, "account_number": "ACCT-77341"})
        corrected = NumberPortIn.objects.get(state=PortInState.IN_REVIEW)
        control_post(self.sandbox, "port-in-status", {"sid": corrected.request_sid, "status": "completed"})
        self.click_and_wait("#port-in-refresh-button")

        clinic = Clinic.objects.get(pk=clinic.pk)
        assert clinic.twilio_number == "+14155550142"
        body = self.text()
        assert "Completed" in body and "(415) 555-0142" in body and "4/10 done" in body
        self.no_sideways_scroll()
        self.shot("port-in-04-completed-1366")
        self.browser.set_window_size(390, 1400)
        self.no_sideways_scroll()
        self.shot("port-in-05-completed-390")
