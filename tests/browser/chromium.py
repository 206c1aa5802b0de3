"""Debian's chromium, headless, driven through Selenium for the browser tests: one per test process,
with the helpers they share. Screenshots go to artifacts/screenshots/ (kept by CI with the clone)."""

from __future__ import annotations

import atexit
import shutil
from pathlib import Path

from django.contrib.staticfiles.testing import StaticLiveServerTestCase
from django.core.servers.basehttp import ThreadedWSGIServer
from django.test.testcases import LiveServerThread, QuietWSGIRequestHandler
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.wait import WebDriverWait

SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
# The widths the browser tests check a page at: a laptop and a phone.
WIDTHS = (1366, 390)
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


_shared: webdriver.Chrome | None = None


def shared_driver() -> webdriver.Chrome:
    """One chromium for every browser test class of the process: starting one costs about a
    second and a half, and CI runs ten classes. Each class starts from a clean slate."""
    global _shared
    if _shared is None:
        _shared = make_driver()
        atexit.register(_shared.quit)
    return _shared


def clean_slate(browser: webdriver.Chrome) -> None:
    """What one class leaves behind must not reach the next: no cookies (a session of
    another live server's database), the default window size, a blank page."""
    browser.get("about:blank")
    browser.execute_cdp_cmd("Network.clearBrowserCookies", {})
    browser.set_window_size(1280, 1400)


class OneRequestPerConnection(QuietWSGIRequestHandler):
    """Close the connection after each response. A request thread of the live server lives as
    long as its connection, with the database connection it opened; Chromium keeps its
    connections open, and it outlives each class's server, so with keep-alive the threads,
    and their database sessions, would outlive the server too (and the test database could
    not be dropped at the end). Closing the connection ends the thread, which closes its
    database connection (ThreadedWSGIServer.close_request)."""

    def handle_one_request(self) -> None:
        super().handle_one_request()
        self.close_connection = True


class ClosingLiveServerThread(LiveServerThread):
    def _create_server(self, connections_override=None) -> ThreadedWSGIServer:
        return self.server_class(
            (self.host, self.port),
            OneRequestPerConnection,
            allow_reuse_address=False,
            connections_override=connections_override,
        )


class BrowserTestCase(StaticLiveServerTestCase):
    """The shared chromium, screenshots, and the helpers the browser tests share."""

    server_thread_class = ClosingLiveServerThread

    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        cls.browser = shared_driver()
        clean_slate(cls.browser)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    @classmethod
    def tearDownClass(cls) -> None:
        clean_slate(cls.browser)  # no page of this class's server stays open as it stops
        super().tearDownClass()

    # -------------------------------------------------------------- helpers

    def shot(self, name: str) -> None:
        self.browser.save_screenshot(str(SCREENSHOTS / f"{name}.png"))

    def at(self, width: int) -> None:
        self.browser.set_window_size(width, 1400)

    def no_sideways_scroll(self) -> None:
        overflow = self.browser.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{overflow}px wider than the window"

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

    def live_by_forwarded_call(self, shots: str) -> None:
        """The clinic page, reloaded, shows every step done, the published line's step by a
        forwarded call; screenshots `<shots>-live-390` and `-live-1366` (the window at 390 px)."""
        self.browser.refresh()
        self.find("#onboarding-path")
        body = self.text()
        assert "10/10 done" in body and "Live: every onboarding step is done." in body
        step = self.browser.find_element(By.CSS_SELECTOR, "li[data-step=published_line_reaches_agent]").text
        assert "by system: a call forwarded from (512) 555-7000" in step
        self.no_sideways_scroll()
        self.shot(f"{shots}-live-390")
        self.browser.set_window_size(1366, 1400)
        self.shot(f"{shots}-live-1366")
