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


@pytest.mark.usefixtures("_sandbox_for_browser")
class StaffOnboardingFlowTests(StaticLiveServerTestCase):
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
        WebDriverWait(self.browser, 15).until(EC.staleness_of(old))

    def text(self) -> str:
        return self.browser.find_element(By.TAG_NAME, "body").text

    def login(self, username: str, password: str) -> None:
        self.go("/admin/login/")
        self.find("#id_username").send_keys(username)
        self.find("#id_password").send_keys(password)
        self.click_and_wait("input[type=submit]")

    # -------------------------------------------------------------- tests

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
        assert "Numbers for sale in 512" in self.text() and "Austin" in self.text()
        self.find("input[name=phone_number][value^='+1512']")
        third = self.browser.find_elements(By.CSS_SELECTOR, "input[name=phone_number][value^='+1512']")[2]
        third.click()  # not the first one: the pick is honoured
        chosen = third.get_attribute("value")
        self.shot("05-numbers-for-sale")
        self.click_and_wait("#buy-button")

        page = self.text()
        clinic.refresh_from_db()
        assert clinic.number_state == NumberState.ACTIVE and clinic.twilio_number == chosen
        assert chosen in page and clinic.twilio_number_sid in page
        national = f"({chosen[2:5]}) {chosen[5:8]}-{chosen[8:]}"
        assert national in page
        assert "3/9" in page and "https://dentsignal.example.com/inbound/voice" in page
        assert "Test an inbound call" in page  # the next step
        self.shot("06-number-active-3-of-6")

        self.click_and_wait("#listing-done-button")
        assert "4/9" in self.text() and "by staff" in self.text()
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
