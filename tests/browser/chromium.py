"""Debian's chromium, headless, driven through Selenium for the browser tests: one per test class,
with the helpers they share. Screenshots go to artifacts/screenshots/ (kept by CI with the clone)."""

from __future__ import annotations

import shutil
from pathlib import Path

from django.contrib.staticfiles.testing import StaticLiveServerTestCase
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.wait import WebDriverWait

SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
CHROMIUM, CHROMEDRIVER = shutil.which("chromium") or "/usr/bin/chromium", shutil.which("chromedriver") or "/usr/bin/chromedriver"


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

    def at(self, width: int) -> None:
        self.browser.set_window_size(width, 1400)

    def no_sideways_scroll(self) -> None:
        overflow = self.browser.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{overflow}px wider than the window"

    def login(self, username: str, password: str) -> None:
        self.go("/admin/login/")
        self.find("#id_username").send_keys(username)
        self.find("#id_password").send_keys(password)
        self.click_and_wait("input[type=submit]")
