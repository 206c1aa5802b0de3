"""Issue 24, "Every look recorded", in a browser at 1366 and 390 px: a Clinic support member
opens a message in the message log; the superuser then finds that view on the access log
page, in the same browser. Screenshots go to artifacts/screenshots/ (i24-*)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from selenium.webdriver.common.by import By

from telephony.models import MessageLog
from tests.browser.chromium import WIDTHS, BrowserTestCase
from tests.factories import ClinicFactory
from tests.permissions import clinic_support_group

pytestmark = pytest.mark.browser


class AccessLogTests(BrowserTestCase):
    def test_a_message_viewed_by_clinic_support_shows_on_the_superusers_access_log(self) -> None:
        users = get_user_model().objects
        users.create_superuser("officer", "", "pw-officer-1234567")
        users.create_user("helper", password="pw-helper-1234567", is_staff=True).groups.add(clinic_support_group())
        clinic = ClinicFactory(name="Austin Dental")
        message = MessageLog.objects.create(
            message_sid="SM" + "2" * 32, clinic=clinic, from_number="+15125550999", body="Can I move my cleaning to Friday?"
        )

        # Clinic support opens the message: its body is there to read, not to edit (support may
        # only mark it read).
        self.login("helper", "pw-helper-1234567")
        for width in WIDTHS:
            self.at(width)
            self.go(f"/admin/telephony/messagelog/{message.pk}/change/")
            assert "Can I move my cleaning to Friday?" in self.text()
            editable = self.browser.find_elements(By.CSS_SELECTOR, "form textarea, form input[type=text]")
            assert not [field for field in editable if "cleaning" in (field.get_attribute("value") or "")]
            self.shot(f"i24-01-support-reads-message-{width}")
            self.no_sideways_scroll()
        self.click_and_wait("#logout-form button[type=submit]")

        # The superuser's access log names who, which message, which fields, from where.
        self.login("officer", "pw-officer-1234567")
        for width in WIDTHS:
            self.at(width)
            self.go("/admin/clinics/accessrecord/?model=telephony.messagelog")
            rows = [row.text for row in self.browser.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")]
            assert len(rows) == 2, rows  # the two views above, newest first
            assert all("helper" in row and "Detail page" in row and str(message.pk) in row for row in rows)
            assert "body" in rows[0] and "127.0.0.1" in rows[0]
            assert self.find("#access-log-export").is_displayed()
            table = "const r = document.querySelector('#changelist .results'); return r.scrollWidth - r.clientWidth"
            assert self.browser.execute_script(table) <= 0, "the table scrolls sideways"
            self.no_sideways_scroll()
            self.shot(f"i24-02-access-log-{width}")
