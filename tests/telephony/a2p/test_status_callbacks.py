"""Trust Hub status callbacks: the customer profile and trust product carry our StatusCallback,
and Twilio's call to it polls that clinic at once instead of at the beat's next tick.

Twilio documents the StatusCallback parameter ("The URL we call to inform your application
of status changes", CustomerProfile and TrustProduct resources) but not the request it
makes; the view uses only the bundle's SID and fetches the status from Twilio itself.
Brands and campaigns take no status callback: the beat's poll follows them.
"""

from __future__ import annotations

import functools
import time
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import cache
from twilio.request_validator import RequestValidator

from clinics import services as services_a2p
from clinics.models_a2p import A2PEvent, A2PRegistration
from telephony import task_names
from telephony.a2p import polling, registration
from tests.conftest import PUBLIC_BASE_URL
from tests.telephony.a2p.conftest import A2P_STATUS, CALLBACK_URL, decide, review, signed_status_callback

pytestmark = pytest.mark.django_db


def _start(clinic) -> A2PRegistration:
    services_a2p.a2p_registration_start(clinic_id=clinic.id)
    return registration.registration_advance(clinic_id=clinic.id)


def _tasks(on_commit: list[Any]) -> list[str]:
    """The names of the tasks sent after commit (telephony.queue.task_send_on_commit)."""
    return [c.args[0] for c in on_commit if isinstance(c, functools.partial)]


def _approved_form(sid: str, account: str = "") -> dict[str, str]:
    return {"AccountSid": account or settings.TWILIO_ACCOUNT_SID, "BundleSid": sid, "Status": "twilio-approved"}


def test_both_bundles_are_created_and_submitted_with_our_status_callback(clinic, sandbox, a2p_enabled):
    review(sandbox, mode="approve", after_seconds=0)
    reg = _start(clinic)
    for _ in range(3):  # the profile's review, then the trust product's, then the brand
        reg = polling.registration_poll(clinic_id=clinic.id, pacer=polling.Pacer(0))
        if reg.brand_sid:
            break
    assert reg.brand_sid, reg.error

    for collection, sid in (("CustomerProfiles", reg.customer_profile_sid), ("TrustProducts", reg.trust_product_sid)):
        [create] = [r for r in sandbox.api_requests("POST") if r["path"] == f"/v1/{collection}" and r["status"] == 201]
        assert create["form"]["StatusCallback"] == CALLBACK_URL
        [submit] = [r for r in sandbox.api_requests("POST", f"/v1/{collection}/{sid}") if r["form"].get("Status")]
        assert submit["form"] == {"Status": "pending-review", "StatusCallback": CALLBACK_URL}
    # Brands have no such parameter in Twilio's Messaging API.
    [brand] = [r for r in sandbox.api_requests("POST") if r["path"] == "/v1/a2p/BrandRegistrations"]
    assert "StatusCallback" not in brand["form"]


def test_a_signed_callback_polls_that_clinic_and_a_repeat_changes_nothing(
    clinic, sandbox, a2p_enabled, client, django_capture_on_commit_callbacks
):
    review(sandbox, mode="manual")
    reg = _start(clinic)
    sid = reg.customer_profile_sid
    decide(sandbox, sid)  # Twilio approves; its callback is what tells us
    sandbox._call("DELETE", "requests")

    with django_capture_on_commit_callbacks(execute=True) as sent:
        answer = signed_status_callback(client, _approved_form(sid))

    assert answer.status_code == 204
    assert _tasks(sent) == [task_names.A2P_REGISTRATION_POLL]  # sent after commit, run here (eager Celery)
    reg.refresh_from_db()
    assert reg.customer_profile_status == "twilio-approved"
    assert reg.trust_product_status == "pending-review"  # what the approval unblocked ran too
    assert [r["path"] for r in sandbox.api_requests("GET", "/v1/CustomerProfiles/")] == [f"/v1/CustomerProfiles/{sid}"]
    assert A2PEvent.objects.filter(clinic=clinic, step="customer_profile", status="twilio-approved").count() == 1

    # Twilio delivers it again: no task, no request to Twilio, no second history row.
    asked, history = len(sandbox.requests()), A2PEvent.objects.count()
    with django_capture_on_commit_callbacks(execute=True) as sent_again:
        again = signed_status_callback(client, _approved_form(sid))
    assert again.status_code == 204
    assert sent_again == []
    assert len(sandbox.requests()) == asked
    assert A2PEvent.objects.count() == history


def test_a_bad_signature_is_refused_and_nothing_is_polled(
    clinic, sandbox, a2p_enabled, client, django_capture_on_commit_callbacks
):
    review(sandbox, mode="manual")
    reg = _start(clinic)
    decide(sandbox, reg.customer_profile_sid)
    form = _approved_form(reg.customer_profile_sid)
    asked = len(sandbox.requests())

    with django_capture_on_commit_callbacks(execute=True) as sent:
        unsigned = client.post(A2P_STATUS, form)
        forged = client.post(
            A2P_STATUS, form, HTTP_X_TWILIO_SIGNATURE=RequestValidator("not-our-token").compute_signature(CALLBACK_URL, form)
        )
        wrong_url = client.post(
            A2P_STATUS,
            form,
            HTTP_X_TWILIO_SIGNATURE=RequestValidator(settings.TWILIO_AUTH_TOKEN).compute_signature(PUBLIC_BASE_URL + "/x", form),
        )

    assert [r.status_code for r in (unsigned, forged, wrong_url)] == [403, 403, 403]
    assert sent == []
    assert len(sandbox.requests()) == asked
    reg.refresh_from_db()
    assert reg.customer_profile_status == "pending-review"


def test_an_unknown_bundle_is_answered_with_nothing_done_and_a_missing_sid_with_a_sentence(
    clinic, sandbox, a2p_enabled, client, django_capture_on_commit_callbacks
):
    review(sandbox, mode="manual")
    _start(clinic)
    asked = len(sandbox.requests())

    with django_capture_on_commit_callbacks(execute=True) as sent:
        unknown = signed_status_callback(client, _approved_form("BU" + "9f" * 16))
        missing = signed_status_callback(client, {"AccountSid": settings.TWILIO_ACCOUNT_SID, "Status": "twilio-approved"})
        not_a_bundle = signed_status_callback(client, _approved_form("BN" + "9f" * 16))

    assert unknown.status_code == 204  # Twilio has nothing to send again
    assert (missing.status_code, not_a_bundle.status_code) == (400, 400)
    assert missing.content.decode().startswith("Expected BundleSid: the SID (BU")
    assert sent == []
    assert len(sandbox.requests()) == asked


def test_a_subaccounts_bundle_is_polled_when_its_own_account_or_the_main_one_reports_it(
    sub_clinic,
    sandbox,
    a2p_enabled,
    client,
    django_capture_on_commit_callbacks,
):
    review(sandbox, mode="manual")
    reg = _start(sub_clinic)
    sid, sub = reg.customer_profile_sid, sub_clinic.twilio_account_sid
    decide(sandbox, sid)
    token = next(a["auth_token"] for a in sandbox._call("GET", "state")["accounts"] if a["sid"] == sub)

    # Another account's token never reaches the clinic's registration (issue 20).
    with django_capture_on_commit_callbacks(execute=True) as by_stranger:
        stranger = signed_status_callback(client, _approved_form(sid, sub), token="0" * 32)
    assert (stranger.status_code, by_stranger) == (403, [])

    with django_capture_on_commit_callbacks(execute=True) as by_sub:
        own = signed_status_callback(client, _approved_form(sid, sub), token=token)
    assert (own.status_code, _tasks(by_sub)) == (204, [task_names.A2P_REGISTRATION_POLL])
    reg.refresh_from_db()
    assert reg.customer_profile_status == "twilio-approved"

    # The main account acts for its subaccounts: its token is accepted for the clinic's
    # bundle too (now recorded, so there is nothing left to poll).
    assert signed_status_callback(client, _approved_form(sid)).status_code == 204


# ----------------------------------------------------------------- end to end: the sandbox calls back


def _delivered(sandbox, count: int, timeout: float = 20.0) -> list[dict[str, Any]]:
    """The first `count` callbacks the sandbox delivered to the app (waits for them)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        delivered = [c for c in sandbox._call("GET", "callbacks")["callbacks"] if c["status"] is not None]
        if len(delivered) >= count:
            return delivered
        time.sleep(0.1)
    raise AssertionError(f"the sandbox delivered fewer than {count} callbacks: {sandbox._call('GET', 'callbacks')}")


def test_an_approval_decided_in_the_sandbox_reaches_the_app_by_its_callback(clinic, sandbox, a2p_enabled, live_server, settings):
    settings.API_BASE_URL = live_server.url  # where the sandbox calls back, and the URL Twilio signs
    review(sandbox, mode="manual")
    reg = _start(clinic)

    decide(sandbox, reg.customer_profile_sid)  # no poll from here on: only the callback
    [callback] = _delivered(sandbox, 1)

    assert callback["url"] == live_server.url + A2P_STATUS
    assert callback["form"] == {
        "AccountSid": settings.TWILIO_ACCOUNT_SID,
        "BundleSid": reg.customer_profile_sid,
        "Status": "twilio-approved",
    }
    assert callback["status"] == 204
    reg.refresh_from_db()
    assert reg.customer_profile_status == "twilio-approved"
    assert reg.trust_product_status == "pending-review"
    assert reg.polled_at is not None


def test_the_review_timer_approves_both_bundles_and_the_callbacks_carry_the_pipeline_to_the_brand(
    clinic, sandbox, a2p_enabled, live_server, settings
):
    settings.API_BASE_URL = live_server.url
    review(sandbox, mode="approve", after_seconds=1)
    reg = _start(clinic)

    callbacks = _delivered(sandbox, 2)

    assert [c["status"] for c in callbacks] == [204, 204]
    reg.refresh_from_db()
    assert (reg.customer_profile_status, reg.trust_product_status) == ("twilio-approved", "twilio-approved")
    assert [c["form"]["BundleSid"] for c in callbacks] == [reg.customer_profile_sid, reg.trust_product_sid]
    # The brand has no status callback at Twilio: the sandbox approves it, nobody tells the app...
    deadline = time.monotonic() + 10
    while _sandbox_status(sandbox, reg.brand_sid) != "APPROVED" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _sandbox_status(sandbox, reg.brand_sid) == "APPROVED"
    assert len(_delivered(sandbox, 2)) == 2
    reg.refresh_from_db()
    assert reg.brand_status == "PENDING"
    # ... until the beat's poll asks, once the callbacks' cooldown is over (the beat skips a
    # clinic polled within A2P_POLL_COOLDOWN_SECONDS; their claims expire, here at once).
    cache.clear()
    polling.registrations_poll()
    reg.refresh_from_db()
    assert reg.brand_status == "APPROVED"


def _sandbox_status(sandbox, sid: str) -> str:
    return next(o["status"] for o in sandbox._call("GET", "a2p-state")["objects"] if o["sid"] == sid)
