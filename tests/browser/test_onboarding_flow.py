"""The staff onboarding flow in a real browser (Debian's chromium, headless, via Selenium).

Screenshots of every step go to artifacts/screenshots/ (kept by CI with the clone).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.staticfiles.testing import StaticLiveServerTestCase
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.wait import WebDriverWait

from clinics.models import Clinic, NumberEvent, NumberState

SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
CHROMIUM, CHROMEDRIVER = shutil.which("chromium") or "/usr/bin/chromium", shutil.which("chromedriver") or "/usr/bin/chromedriver"

pytestmark = pytest.mark.browser


@pytest.fixture
def _sandbox_for_browser(request, sandbox, settings):
    settings.API_BASE_URL = "https://dentsignal.example.com"
    request.cls.sandbox = sandbox


def make_driver() -> webdriver.Chrome:
    if not Path(CHROMIUM).exists() or not Path(CHROMEDRIVER).exists():
        raise RuntimeError("Debian's chromium and chromium-driver are needed: apt-get install chromium chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,1400",
    ):
        options.add_argument(flag)
    return webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))


class BrowserTestCase(StaticLiveServerTestCase):
    """One chromium per test class, screenshots, and the helpers the browser tests share."""

    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        cls.browser = make_driver()
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    @classmethod
    def tearDownClass(cls) -> None:
        cls.browser.quit()
        super().tearDownClass()

    # -------------------------------------------------------------- helpers

    def shot(self, name: str) -> None:
        self.browser.save_screenshot(str(SCREENSHOTS / f"{name}.png"))

    def go(self, path: str) -> None:
        self.browser.get(self.live_server_url + path)

    def find(self, css: str):
        return WebDriverWait(self.browser, 15).until(EC.presence_of_element_located((By.CSS_SELECTOR, css)))

    def click_and_wait(self, css: str) -> None:
        old = self.browser.find_element(By.TAG_NAME, "html")
        self.find(css).click()

        def page_replaced(_driver) -> bool:
            try:
                old.is_enabled()
            except StaleElementReferenceException:
                return True
            except WebDriverException as exc:
                # Chromium may answer mid-navigation "Node with given id does not belong to
                # the document" instead of a stale reference: the old page is gone all the same.
                if "does not belong to the document" in str(exc):
                    return True
                raise
            return False

        WebDriverWait(self.browser, 15).until(page_replaced)

    def text(self) -> str:
        return self.browser.find_element(By.TAG_NAME, "body").text

    def login(self, username: str, password: str) -> None:
        self.go("/admin/login/")
        self.find("#id_username").send_keys(username)
        self.find("#id_password").send_keys(password)
        self.click_and_wait("input[type=submit]")


@pytest.mark.usefixtures("_sandbox_for_browser")
class StaffOnboardingFlowTests(BrowserTestCase):
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
        assert "3/6" in page and "https://dentsignal.example.com/inbound/voice" in page
        assert "Test an inbound call" in page  # the next step
        self.shot("06-number-active-3-of-6")

        self.click_and_wait("#listing-done-button")
        assert "4/6" in self.text() and "by staff" in self.text()
        self.shot("07-listing-ticked-4-of-6")

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
