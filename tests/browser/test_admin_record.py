"""Issue 22 (items 4, 5, 9) in a browser, at 1366 and 390 px: unticking a person's step with
the steps that depend on it, the delete refusal's one rule, a deleted clinic's number
history, and the provision form with the admin's form styles. Screenshots go to
artifacts/screenshots/ (i22-*)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from selenium.webdriver.common.by import By

from clinics import services
from clinics.models import A2PRegistration, Clinic, NumberEvent, OnboardingPath, OnboardingStep, path_steps
from tests.browser.chromium import WIDTHS, BrowserTestCase
from tests.factories import ActiveClinicFactory

pytestmark = pytest.mark.browser


class AdminRecordTests(BrowserTestCase):
    def test_untick_delete_history_and_the_provision_form(self) -> None:
        get_user_model().objects.create_superuser("lead", "", "pw-lead-1234567")
        live = ActiveClinicFactory(name="Walk Dental", twilio_number="+15125557200")
        for step in path_steps(OnboardingPath.NEW_NUMBER):
            services.clinic_checklist_tick(clinic_id=live.id, step=step)
        gone = Clinic.objects.create(name="Gone Dental", time_zone="America/Chicago")
        A2PRegistration.objects.create(clinic=gone)
        for kind in (NumberEvent.Kind.PURCHASED, NumberEvent.Kind.RELEASED):
            NumberEvent.objects.create(clinic=gone, clinic_name=gone.name, kind=kind, phone_number="+15125557201")
        self.login("lead", "pw-lead-1234567")

        # Item 4: a state step offers no Untick; the test call does, naming the listing that goes with it.
        self.at(1366)
        self.go(f"/admin/clinics/clinic/{live.pk}/change/")
        links = {a.get_attribute("data-step") for a in self.browser.find_elements(By.CSS_SELECTOR, "a.untick-link")}
        assert links == {
            OnboardingStep.TEST_INBOUND_CALL,
            OnboardingStep.TEST_INBOUND_SMS,
            OnboardingStep.HIPAA_CONFIRMED,
            OnboardingStep.UPDATE_LISTING,
        }
        self.click_and_wait(f"a.untick-link[data-step='{OnboardingStep.TEST_INBOUND_CALL}']")
        assert "Update the Google/website listing" in self.find("#untick-dependents").text
        self.shot("i22-01-untick-names-dependents-1366")
        self.at(390)
        self.no_sideways_scroll()
        self.shot("i22-02-untick-names-dependents-390")
        self.find("#id_reason").send_keys("the call reached the old number")
        self.click_and_wait("#untick-submit")
        assert "8/10 done" in self.text() and "with the step(s) that depend on it" in self.text()
        self.shot("i22-03-unticked-7-of-9-390")
        self.at(1366)
        self.shot("i22-04-unticked-7-of-9-1366")

        # Item 5: the refusal says the rule once, and what holds this clinic, with no SID.
        for width in WIDTHS:
            self.at(width)
            self.go(f"/admin/clinics/clinic/{live.pk}/delete/")
            rule = self.find("#delete-rule").text
            assert rule.startswith("A clinic can be deleted once its number is released") and "permission" not in self.text()
            assert "Walk Dental holds the number +15125557200" in self.text() and live.twilio_number_sid not in self.text()
            self.no_sideways_scroll()
            self.shot(f"i22-05-delete-refused-{width}")

        # A clinic that started texting registration is deleted; its number history stays reachable.
        self.go(f"/admin/clinics/clinic/{gone.pk}/delete/")
        self.click_and_wait("input[type=submit]")
        assert not Clinic.objects.filter(pk=gone.pk).exists()
        for width in WIDTHS:
            self.at(width)
            self.go("/admin/clinics/numberevent/?clinic_deleted=yes")
            rows = self.browser.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")
            assert len(rows) == 3 and all("Gone Dental (deleted)" in row.text for row in rows)
            self.no_sideways_scroll()
            self.shot(f"i22-06-deleted-clinic-history-{width}")

        # Item 9: the provision form carries the admin's form styles (it was bare), and the
        # dangerous close is a button on the clinic page, not a list action.
        fresh = Clinic.objects.create(name="Fresh Dental")
        for width in WIDTHS:
            self.at(width)
            self.go(f"/admin/clinics/clinic/{fresh.pk}/provision/")
            row = self.find("#provision-form .form-row")
            assert row.value_of_css_property("border-bottom-style") == "solid"  # admin/css/forms.css rows
            self.no_sideways_scroll()
            self.shot(f"i22-07-provision-form-{width}")
        self.go(f"/admin/clinics/clinic/{live.pk}/change/")
        assert self.find("#close-subaccount-button").text.lower() == "close twilio subaccount…"
        assert "View site" not in self.text()
        self.go("/admin/clinics/clinic/")
        options = [o.text for o in self.browser.find_elements(By.CSS_SELECTOR, "select[name=action] option")]
        assert options and not any("Close" in text for text in options)
