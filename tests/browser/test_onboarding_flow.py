"""The staff onboarding flow in a real browser (Debian's chromium, headless, via Selenium).

Screenshots of every step go to artifacts/screenshots/ (kept by CI with the clone).
"""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.wait import WebDriverWait

from clinics import services
from clinics.models import Clinic, NumberEvent, NumberState, OnboardingStep
from telephony.models import CallLog, MessageLog
from tests.browser.chromium import BrowserTestCase

pytestmark = pytest.mark.browser


@pytest.fixture
def _sandbox_for_browser(request, sandbox, settings):
    settings.API_BASE_URL = "https://dentsignal.example.com"
    request.cls.sandbox = sandbox


@pytest.mark.usefixtures("_sandbox_for_browser")
class StaffOnboardingFlowTests(BrowserTestCase):
    @pytest.mark.embedded  # what a first run shows: scripts/dev on SQLite and eager Celery
    def test_staff_onboards_a_clinic_from_creation_to_release(self) -> None:
        get_user_model().objects.create_superuser("staff", "", "pw-staff-123456")
        self.login("staff", "pw-staff-123456")
        self.shot("01-admin-home")

        self.go("/admin/clinics/clinic/add/")
        self.find("#id_name").send_keys("Browser Dental")
        self.find("#id_office_phone").send_keys("+15125557000")
        self.shot("02-new-clinic")
        self.click_and_wait("input[name=_continue]")
        clinic = Clinic.objects.get(name="Browser Dental")
        assert "Provision a number" in self.text()
        self.shot("03-clinic-without-number")

        self.go("/admin/clinics/clinic/")
        self.find(f"input[name=_selected_action][value='{clinic.pk}']").click()
        Select(self.find("select[name=action]")).select_by_value("provision_number")
        self.click_and_wait("button[name=index]")
        self.find("#id_area_code").send_keys("512")
        self.shot("04-area-code-form")
        self.click_and_wait("#search-button")
        assert "Numbers for sale in area code 512" in self.text() and "Austin" in self.text()
        self.find("input[name=phone_number][value^='+1512']")
        third = self.browser.find_elements(By.CSS_SELECTOR, "input[name=phone_number][value^='+1512']")[2]
        third.click()  # not the first one: the pick is honoured
        chosen = third.get_attribute("value")
        self.shot("05-numbers-for-sale")
        self.click_and_wait("#confirm-button")  # issue 16: Buy is on a confirm step naming number and price
        assert chosen in self.find("#confirm-summary").text
        self.click_and_wait("#buy-button")

        page = self.text()
        clinic.refresh_from_db()
        assert clinic.number_state == NumberState.ACTIVE and clinic.twilio_number == chosen
        assert chosen in page and clinic.twilio_number_sid in page
        national = f"({chosen[2:5]}) {chosen[5:8]}-{chosen[8:]}"
        assert national in page
        assert "3/10" in page and "https://dentsignal.example.com/inbound/voice" in page
        assert "Test an inbound call" in page  # the next step
        self.shot("06-number-active-3-of-9")
        # Issue 16: the listing waits for the test call and SMS (ticked by the system).
        assert "to do, after: Test an inbound call, Test an inbound SMS" in page
        for step in (OnboardingStep.TEST_INBOUND_CALL, OnboardingStep.TEST_INBOUND_SMS):
            services.clinic_checklist_tick(clinic_id=clinic.id, step=step, note="browser test")
        self.go(f"/admin/clinics/clinic/{clinic.pk}/change/")

        self.click_and_wait("#listing-done-button")
        assert "6/10" in self.text() and "by staff" in self.text()
        self.shot("07-listing-ticked-6-of-9")

        self.click_and_wait("#release-button")
        assert chosen in self.text()
        self.shot("08-release-confirmation")
        self.click_and_wait("#confirm-release")
        page = self.text()
        clinic.refresh_from_db()
        assert clinic.number_state == NumberState.RELEASED and clinic.twilio_number is None
        assert re.search(r"Number released\s+" + re.escape(chosen), page), page
        assert NumberEvent.objects.filter(clinic=clinic, kind=NumberEvent.Kind.PURCHASED, phone_number=chosen).exists()
        assert self.sandbox.owned_numbers() == []
        self.shot("09-released")
        self.browser.execute_script("document.getElementById('number_events-group').scrollIntoView()")
        self.shot("10-number-history-kept")

    def test_a_user_who_is_not_staff_cannot_reach_any_of_it(self) -> None:
        get_user_model().objects.create_user("frontdesk", "", "pw-frontdesk-123")
        clinic = Clinic.objects.create(name="Private Dental")

        self.login("frontdesk", "pw-frontdesk-123")
        assert "correct username and password for a staff account" in self.text()
        self.shot("11-non-staff-login-refused")
        for path in (
            "/admin/clinics/clinic/",
            f"/admin/clinics/clinic/{clinic.pk}/change/",
            f"/admin/clinics/clinic/{clinic.pk}/provision/",
            "/admin/telephony/auditrun/",
        ):
            self.go(path)
            assert "/admin/login/" in self.browser.current_url
            assert "Private Dental" not in self.text()
        self.shot("12-non-staff-sent-to-login")
        assert self.sandbox.requests() == []


@pytest.mark.usefixtures("_sandbox_for_browser")
class BuyLikeTheConsoleTests(BrowserTestCase):
    """Issue 16 in a browser: search filters, price, confirm, nothing for sale, forgiving inputs."""

    def setUp(self) -> None:
        super().setUp()
        get_user_model().objects.create_superuser("buyer", "", "pw-buyer-123456")
        self.login("buyer", "pw-buyer-123456")

    def search_form(self, clinic: Clinic, **fields: str) -> None:
        self.go(f"/admin/clinics/clinic/{clinic.pk}/provision/")
        for name, value in fields.items():
            self.find(f"#id_{name}").send_keys(value)

    def test_search_by_city_and_by_digits_shows_the_price_then_confirm_then_buy(self) -> None:
        clinic = Clinic.objects.create(name="Console Dental")
        self.search_form(clinic, in_locality="Austin", in_region="TX", contains="011")
        self.shot("20-search-by-city")
        self.click_and_wait("#search-button")
        page = self.text()
        assert "Numbers for sale in Austin, in TX, containing 011" in page
        assert "$1.15/month" in page and "Voice · SMS · MMS" in page
        assert "(737)" in page and "(512)" in page
        assert not self.browser.find_elements(By.ID, "buy-button")
        self.shot("21-city-results-with-price")

        self.find("#id_contains").clear()
        self.find("#id_contains").send_keys("0107")
        self.find("#id_in_locality").clear()
        self.find("#id_in_region").clear()
        self.find("#id_area_code").send_keys("512")
        self.click_and_wait("#search-button")
        picks = [e.get_attribute("value") for e in self.browser.find_elements(By.CSS_SELECTOR, "input[name=phone_number]")]
        assert picks == ["+15125550107"]
        self.shot("22-contains-0107")
        self.click_and_wait("#confirm-button")
        summary = self.find("#confirm-summary").text
        assert "(512) 555-0107" in summary and "+15125550107" in summary
        assert "Console Dental" in summary and "$1.15/month" in summary
        clinic.refresh_from_db()
        assert clinic.number_state == NumberState.NONE  # nothing bought before Buy
        self.shot("23-confirm-number-and-price")
        self.click_and_wait("#buy-button")
        clinic.refresh_from_db()
        assert clinic.number_state == NumberState.ACTIVE and clinic.twilio_number == "+15125550107"
        assert "(512) 555-0107" in self.text()
        self.shot("24-bought-after-confirm")

    def test_enter_after_refining_searches_again_and_the_price_stays_in_view_at_390(self) -> None:
        """Issue 22: Enter in a refined search searched nothing new, it opened the confirm page
        of the old results' first number (Continue was the form's first button); at 390 px the
        results table ran past the screen and cut the price off."""
        clinic = Clinic.objects.create(name="Enter Dental")
        self.browser.set_window_size(1366, 1000)
        self.search_form(clinic, area_code="512")
        self.click_and_wait("#search-button")
        first_results = self.picks()
        assert len(first_results) > 1 and "+15125550107" in first_results[1:]
        self.shot("search-01-results-1366")

        # Refine (digits the number contains) and press Enter in that field.
        old = self.browser.find_element(By.TAG_NAME, "html")
        self.find("#id_contains").send_keys("0107", Keys.ENTER)
        WebDriverWait(self.browser, 15).until(lambda _driver: not self._alive(old))
        assert not self.browser.find_elements(By.ID, "confirm-summary"), "Enter opened the confirm page of the old results"
        assert self.picks() == ["+15125550107"]
        self.shot("search-02-enter-searched-again-1366")

        self.browser.set_window_size(390, 1000)
        price = self.find("#numbers-for-sale td.price")
        right, width = self.browser.execute_script(
            "return [arguments[0].getBoundingClientRect().right, document.documentElement.clientWidth]", price
        )
        assert price.is_displayed() and price.text == "$1.15/month" and right <= width, (right, width)
        self.browser.execute_script("document.getElementById('numbers-for-sale').scrollIntoView()")
        self.shot("search-03-results-390")
        self.browser.set_window_size(1280, 1400)  # as make_driver opens it, for the next test
        clinic.refresh_from_db()
        assert clinic.number_state == NumberState.NONE  # nothing bought by searching

    def picks(self) -> list[str]:
        return [e.get_attribute("value") for e in self.browser.find_elements(By.CSS_SELECTOR, "input[name=phone_number]")]

    @staticmethod
    def _alive(element) -> bool:
        try:
            element.is_enabled()
        except WebDriverException:  # stale (or "does not belong to the document"): the page was replaced
            return False
        return True

    def test_nothing_for_sale_shows_no_buy_and_leaves_the_clinic_unchanged(self) -> None:
        self.sandbox.empty_area_code("907")
        clinic = Clinic.objects.create(name="Juneau Dental")
        self.search_form(clinic, area_code="907")
        self.click_and_wait("#search-button")
        page = self.text()
        assert "No numbers with voice and SMS are for sale in area code 907" in page and "clinic is unchanged" in page
        assert not self.browser.find_elements(By.ID, "buy-button")
        assert not self.browser.find_elements(By.ID, "confirm-button")
        self.shot("25-nothing-for-sale-no-buy")
        clinic.refresh_from_db()
        assert clinic.number_state == NumberState.NONE and not clinic.number_error
        assert not NumberEvent.objects.filter(clinic=clinic).exists()

    def test_bad_area_code_gets_a_specific_sentence(self) -> None:
        clinic = Clinic.objects.create(name="Typo Dental")
        self.search_form(clinic, area_code="5")
        self.click_and_wait("#search-button")
        assert "'5' has 1 digit: an area code is three digits, for example 512." in self.text()
        self.shot("26-area-code-5")

    def test_office_phone_typed_nationally_is_saved_e164_and_list_search_by_any_format(self) -> None:
        self.go("/admin/clinics/clinic/add/")
        self.find("#id_name").send_keys("Typed Dental")
        self.find("#id_office_phone").send_keys("512-555-7100")
        self.shot("27-office-phone-typed-nationally")
        self.click_and_wait("input[name=_continue]")
        clinic = Clinic.objects.get(name="Typed Dental")
        assert clinic.office_phone == "+15125557100"
        assert self.find("#id_office_phone").get_attribute("value") == "+15125557100"
        self.shot("28-office-phone-saved-e164")

        Clinic.objects.create(name="Listed Dental", twilio_number="+15125550103", number_state=NumberState.ACTIVE)
        Clinic.objects.create(name="Other Dental", twilio_number="+15125550104", number_state=NumberState.ACTIVE)
        self.go("/admin/clinics/clinic/")
        self.find("#searchbar").send_keys("(512) 555-0103")
        self.click_and_wait("#changelist-search input[type=submit]")
        page = self.text()
        assert "Listed Dental" in page and "Other Dental" not in page and "Typed Dental" not in page
        self.shot("29-list-search-by-national-format")


@pytest.mark.usefixtures("_sandbox_for_browser")
class RecordAuditAndLayoutTests(BrowserTestCase):
    """Issue 16 in a browser: the record, the audit pages, and the layout at 390 and 1366 px."""

    def narrow(self, width: int) -> None:
        self.browser.set_window_size(width, 1400)

    def test_tick_untick_release_and_the_history_stays(self) -> None:
        get_user_model().objects.create_superuser("lead", "", "pw-lead-1234567")
        self.login("lead", "pw-lead-1234567")
        clinic = Clinic.objects.create(name="Record Dental", office_phone="+15125557100")
        self.go(f"/admin/clinics/clinic/{clinic.pk}/provision/")
        self.find("#id_area_code").send_keys("512")
        self.click_and_wait("#search-button")
        self.click_and_wait("#confirm-button")
        self.click_and_wait("#buy-button")
        clinic.refresh_from_db()
        number = clinic.twilio_number
        assert clinic.time_zone == "America/Chicago" and " CST" in self.text()
        for step in (OnboardingStep.TEST_INBOUND_CALL, OnboardingStep.TEST_INBOUND_SMS):
            services.clinic_checklist_tick(clinic_id=clinic.id, step=step, note="browser test")
        self.go(f"/admin/clinics/clinic/{clinic.pk}/change/")
        self.click_and_wait("#listing-done-button")  # tick
        assert "6/10 done · run 1 since" in self.text()
        self.shot("20-checklist-6-of-9-run-1")

        self.click_and_wait("a.untick-link[data-step='update_listing']")
        self.find("#id_reason").send_keys("the website still shows the old number")
        self.shot("21-untick-with-reason")
        self.click_and_wait("#untick-submit")
        assert "5/10 done" in self.text() and "unticked; the reason is in the history" in self.text()

        self.click_and_wait("#release-button")
        self.click_and_wait("#confirm-release")
        clinic.refresh_from_db()
        assert clinic.number_state == NumberState.RELEASED
        assert "0/10 done · run 2 since" in self.text()
        self.shot("22-released-run-2")

        self.go(f"/admin/clinics/clinic/{clinic.pk}/history/")
        history = self.text()
        for line in (
            "Checklist step ticked",
            "Checklist step unticked",
            "the website still shows the old number",
            "New checklist run",
        ):
            assert line in history, line
        assert "Number released" in history and number in history and "lead" in history
        self.shot("23-history-1366")
        self.narrow(390)
        self.go(f"/admin/clinics/clinic/{clinic.pk}/history/")
        self.shot("24-history-390")
        self.go(f"/admin/clinics/clinic/{clinic.pk}/change/")
        self.shot("25-clinic-page-390")
        self.narrow(1280)

    def test_audit_fix_and_orphan_release_from_the_audit_page(self) -> None:
        get_user_model().objects.create_superuser("ops", "", "pw-ops-12345678")
        drift = Clinic.objects.create(name="Drift Dental")
        (drift_sid, orphan_sid) = self.sandbox.seed_numbers(
            [
                {"phone_number": "+15125550177", "friendly_name": "Drift Dental", "voice_url": "https://old.example.net/v"},
                {"phone_number": "+15125550191", "friendly_name": "nobody's"},
            ]
        )
        Clinic.objects.filter(pk=drift.pk).update(
            twilio_number="+15125550177", twilio_number_sid=drift_sid, number_state=NumberState.ACTIVE
        )
        self.login("ops", "pw-ops-12345678")
        self.go("/admin/telephony/auditrun/")
        self.click_and_wait("input[value='Run audit now']")
        assert "Audit started" not in self.text() and "Audit done" in self.text()
        self.shot("30-audit-findings")

        self.click_and_wait(f"[data-sid='{drift_sid}'][data-code='webhook_drift'] input[value='Fix webhooks']")
        finding = self.find(f"[data-sid='{drift_sid}'][data-code='webhook_drift']").text
        assert (
            "✔ Fixed at" in finding
            and "Fix webhooks"
            not in self.find("#content-main")
            .get_attribute("innerHTML")
            .split(f'data-sid="{drift_sid}"')[1]
            .split("audit-finding")[0]
        )
        self.shot("31-audit-fixed")

        self.click_and_wait(f"[data-sid='{orphan_sid}'] a.release-orphan")
        assert "+15125550191" in self.text()
        self.shot("32-orphan-release-confirmation")
        self.click_and_wait("#release-orphan-confirm")
        assert "✔ Released at" in self.find(f"[data-sid='{orphan_sid}'][data-code='orphan']").text
        assert orphan_sid not in {n["sid"] for n in self.sandbox.owned_numbers()}
        self.shot("33-orphan-released")
        self.narrow(390)
        self.go("/admin/telephony/auditrun/")
        self.shot("34-audit-390")
        self.narrow(1280)

    def test_lists_at_390_and_1366(self) -> None:
        failed_sentence = "The number could not be bought: Twilio answered 21422 (the number is no longer for sale)."
        get_user_model().objects.create_superuser("viewer", "", "pw-viewer-12345")
        for i in range(8):
            Clinic.objects.create(
                name=f"Clinic {i} of the Greater Austin Family Dentistry Group",
                twilio_number=f"+1512555{i:04d}",
                twilio_number_sid=f"PN{i:032d}",
                number_state=NumberState.FAILED if i % 3 == 0 else NumberState.ACTIVE,
                number_error=failed_sentence if i % 3 == 0 else "",
                time_zone="America/Chicago",
            )
        clinic = Clinic.objects.first()
        MessageLog.objects.create(
            message_sid="SM" + "1" * 32,
            clinic=clinic,
            direction="inbound",
            from_number="+15125559999",
            to_number=clinic.twilio_number,
            body="Can I move my cleaning to Friday afternoon please?",
            action="no_appointment",
        )
        CallLog.objects.create(
            call_sid="CA" + "1" * 32,
            clinic=clinic,
            from_number="+15125559999",
            to_number=clinic.twilio_number,
            status="completed",
        )
        self.login("viewer", "pw-viewer-12345")
        for width in (390, 1366):
            self.narrow(width)
            for name, path in (
                ("clinic-list", "/admin/clinics/clinic/"),
                ("message-log", "/admin/telephony/messagelog/"),
                ("call-log", "/admin/telephony/calllog/"),
            ):
                self.go(path)
                self.find("#result_list")
                # Nothing pushed off screen: the page is no wider than the window.
                overflow = self.browser.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
                self.shot(f"40-{name}-{width}")
                # ... and no column cut off inside the results box.
                cut = self.browser.execute_script(
                    "const r = document.querySelector('#changelist .results'); return r.scrollWidth - r.clientWidth"
                )
                assert overflow <= 0 and cut <= 0, (name, width, overflow, cut)
                if name == "clinic-list":
                    assert "checklist" in self.text().lower() and "3/10" not in self.text()
        self.narrow(1280)
        self.go("/admin/telephony/messagelog/")
        assert "No upcoming appointment" in self.text()
