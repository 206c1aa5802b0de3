"""Issue 23, the port-in path in a real browser: staff choose "Port the number in", fill in the
losing carrier's record with the utility bill; the clinic page's sandbox buttons play Twilio's
and the losing carrier's part, as a newcomer does in scripts/dev: the authorization is sent
and signed, the carrier rejects the port, staff correct and resubmit it, and the completed
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
        assert NumberPortIn.objects.count() == 1 and "Port the number in · 0/10 done" in self.text()

        # Twilio makes the authorization, it is signed; the carrier then rejects the account number.
        self.click_and_wait("#sandbox-port-send-loa-button")
        assert "Sign the LOA:" in self.text() and "Ana Lopez" in self.text()
        self.shot("port-in-02-sign-1366")
        self.click_and_wait("#sandbox-port-sign-button")
        assert "In progress with the carrier" in self.text()
        self.click_and_wait("#sandbox-port-reject-button")
        body = self.text()
        assert "Fix the request:" in body and "Account number does not match" in body and "correct them on the clinic" in body
        self.browser.set_window_size(390, 1400)
        self.no_sideways_scroll()
        self.shot("port-in-03-rejected-390")

        # Corrected: the record is prefilled, the account number typed again, the port resubmitted.
        self.browser.set_window_size(1366, 1400)
        self.click_and_wait("#port-in-button")
        assert self.find("#id_customer_name").get_attribute("value") == "Lake Dental LLC"
        self.fill_and_submit(bill.name, record={**RECORD, "account_number": "ACCT-77341"})
        assert NumberPortIn.objects.filter(state=PortInState.IN_REVIEW).count() == 1
        for move in ("send-loa", "sign", "complete"):
            self.click_and_wait(f"#sandbox-port-{move}-button")

        clinic = Clinic.objects.get(pk=clinic.pk)
        assert clinic.twilio_number == "+14155550142"
        body = self.text()
        assert "Completed" in body and "(415) 555-0142" in body and "4/10 done" in body
        self.no_sideways_scroll()
        self.shot("port-in-04-completed-1366")
        self.browser.set_window_size(390, 1400)
        self.no_sideways_scroll()
        self.shot("port-in-05-completed-390")
