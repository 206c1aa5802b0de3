"""Issue 16, "Pages that stay true": the Number audit page after each action re-renders
from the new state; actions are idempotent and say so; orphans get Release (confirmed)
and Adopt; every finding names its button; an "all good" list; clinic names link."""

import pytest
from django.urls import reverse

from clinics.models import Clinic, NumberEvent, NumberState
from dentsignal.celery import app as celery_app
from telephony import tasks
from telephony.models import AuditRun
from tests.factories import ClinicFactory

pytestmark = pytest.mark.django_db(transaction=True)
PAGE = reverse("admin:telephony_auditrun_changelist")


def holding(sandbox, name, number, voice_url="https://old.example.net/inbound/voice"):
    clinic = ClinicFactory(name=name)
    (sid,) = sandbox.seed_numbers([{"phone_number": number, "friendly_name": name, "voice_url": voice_url}])
    Clinic.objects.filter(pk=clinic.pk).update(twilio_number=number, twilio_number_sid=sid, number_state=NumberState.ACTIVE)
    return Clinic.objects.get(pk=clinic.pk)


@pytest.fixture
def audited(admin_client, sandbox):
    """Drift (one clinic), an adoptable orphan, a plain orphan; one audit, done."""
    drift = holding(sandbox, "Drift Dental", "+15125550177")
    lost = ClinicFactory(name="Lost Dental")
    adoptable, orphan = sandbox.seed_numbers(
        [
            {"phone_number": "+15125550190", "friendly_name": f"Lost Dental (clinic #{lost.id})"},
            {"phone_number": "+15125550191", "friendly_name": "nobody's"},
        ]
    )
    page = admin_client.post(reverse("admin:telephony_audit_run"), follow=True).content.decode()
    assert AuditRun.objects.get().status == AuditRun.Status.DONE
    return {"drift": drift, "lost": lost, "adoptable": adoptable, "orphan": orphan, "page": page}


def finding_html(page, sid, code):
    start = page.index(f'data-code="{code}" data-sid="{sid}"')
    end = page.find('class="audit-finding', start)
    return page[start : end if end > 0 else start + 2000]


def test_run_on_a_page_already_done_says_done_not_started(audited):
    assert "Audit started" not in audited["page"]
    assert "Audit done: Checked 3 numbers" in audited["page"]


def test_findings_name_their_button_and_no_shell_command_in_backticks(audited):
    page = audited["page"]
    assert "`" not in page
    assert "Press Fix webhooks beside this number" in page
    assert "Press Adopt for Lost Dental beside this number" in page
    assert "press Release beside this number" in page
    drift = audited["drift"]
    assert f'href="{reverse("admin:clinics_clinic_change", args=[drift.pk])}">Drift Dental</a>' in page


def test_fix_webhooks_then_the_finding_shows_fixed_and_no_button(admin_client, audited):
    sid = audited["drift"].twilio_number_sid

    page = admin_client.post(reverse("admin:telephony_audit_fix"), {"sid": sid}, follow=True).content.decode()

    drift = finding_html(page, sid, "webhook_drift")
    assert "✔ Fixed at " in drift and 'value="Fix webhooks"' not in drift
    assert "Fix all webhooks" not in page
    again = admin_client.post(reverse("admin:telephony_audit_fix"), {"sid": sid}, follow=True).content.decode()
    assert "Already fixed: Fixed at" in again
    assert NumberEvent.objects.filter(kind=NumberEvent.Kind.WEBHOOKS_UPDATED, phone_sid=sid).count() == 1


def test_adopt_twice_says_already_adopted(admin_client, audited):
    url = reverse("admin:telephony_audit_adopt")

    first = admin_client.post(url, {"sid": audited["adoptable"]}, follow=True).content.decode()
    second = admin_client.post(url, {"sid": audited["adoptable"]}, follow=True).content.decode()

    assert "Adopting +15125550190 for Lost Dental" in first
    assert "✔ Adopted at " in finding_html(first, audited["adoptable"], "orphan_adoptable")
    assert "is already adopted; nothing changed" in second
    assert NumberEvent.objects.filter(kind=NumberEvent.Kind.ADOPTED, phone_sid=audited["adoptable"]).count() == 1
    audited["lost"].refresh_from_db()
    assert audited["lost"].twilio_number_sid == audited["adoptable"]


def test_orphan_release_asks_to_confirm_then_releases_once(admin_client, audited, sandbox, admin_user):
    url = reverse("admin:telephony_audit_release")
    sid = audited["orphan"]

    confirm = admin_client.get(url, {"sid": sid})
    assert confirm.status_code == 200 and b"Yes, release +15125550191" in confirm.content
    assert sid in {n["sid"] for n in sandbox.owned_numbers()}

    page = admin_client.post(url, {"sid": sid, "confirm": "1"}, follow=True).content.decode()

    assert sid not in {n["sid"] for n in sandbox.owned_numbers()}
    assert "✔ Released at " in finding_html(page, sid, "orphan") and "by admin" in finding_html(page, sid, "orphan")
    again = admin_client.post(url, {"sid": sid, "confirm": "1"}, follow=True).content.decode()
    assert "already done" in again
    assert NumberEvent.objects.filter(kind=NumberEvent.Kind.RELEASED, phone_sid=sid).count() == 1


def test_orphan_release_refuses_a_number_that_is_not_an_orphan(admin_client, audited, sandbox):
    sid = audited["drift"].twilio_number_sid

    page = admin_client.post(reverse("admin:telephony_audit_release"), {"sid": sid, "confirm": "1"}, follow=True)

    assert "not an orphan in the last audit; nothing was released" in page.content.decode()
    assert sid in {n["sid"] for n in sandbox.owned_numbers()}


def test_orphan_release_needs_the_release_permission(client, django_user_model, audited, sandbox):
    from django.contrib.auth.models import Permission

    user = django_user_model.objects.create_user(username="auditor", password="pw-auditor-1234", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_auditrun"))
    client.force_login(user)

    assert client.post(reverse("admin:telephony_audit_release"), {"sid": audited["orphan"], "confirm": "1"}).status_code == 403
    page = client.get(PAGE).content.decode()
    assert "release-orphan" not in page and "You do not hold this power" in page


def test_all_good_lists_the_fine_numbers_with_links(admin_client, sandbox, settings):
    from telephony.webhook_urls import webhook_params

    settings.AI_AGENT_STREAM_URL = "wss://agent.example.com/stream"
    fine = ClinicFactory(name="Fine Dental")
    (sid,) = sandbox.seed_numbers([{"phone_number": "+15125550150", "friendly_name": "Fine Dental", **webhook_params()}])
    Clinic.objects.filter(pk=fine.pk).update(twilio_number="+15125550150", twilio_number_sid=sid, number_state="active")

    page = admin_client.post(reverse("admin:telephony_audit_run"), follow=True).content.decode()

    assert "All good (1)" in page
    assert f'+15125550150 — <a href="{reverse("admin:clinics_clinic_change", args=[fine.pk])}">Fine Dental</a>' in page


# ------------------------------------------------------------------ the task queue hung or down (issue 20)


def said(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def beat_tick_with_the_task_queue_back() -> None:
    """The task queue answers again (the in-process stand-in for it), and beat's re-drive ticks."""
    celery_app.set_current()
    tasks.redrive_stuck_clinics.delay()


def test_orphan_release_with_the_task_queue_down_says_queued_and_runs_once_it_answers(
    admin_client, audited, sandbox, broken_broker
):
    sid = audited["orphan"]

    response = admin_client.post(reverse("admin:telephony_audit_release"), {"sid": sid, "confirm": "1"}, follow=True)

    assert any("+15125550191" in m and "queued" in m and "when the task queue answers" in m for m in said(response))
    assert not any("sent" in m for m in said(response)), said(response)
    assert sid in {n["sid"] for n in sandbox.owned_numbers()}
    assert "queued for re-send" in finding_html(response.content.decode(), sid, "orphan")  # on every view until sent

    beat_tick_with_the_task_queue_back()

    assert sid not in {n["sid"] for n in sandbox.owned_numbers()}
    page = admin_client.get(PAGE).content.decode()
    assert "Released at" in finding_html(page, sid, "orphan") and "queued" not in finding_html(page, sid, "orphan")
    assert NumberEvent.objects.filter(kind=NumberEvent.Kind.RELEASED, phone_sid=sid).count() == 1
    tasks.redrive_stuck_clinics.delay()  # done: the next tick has nothing to send
    assert len(sandbox.api_requests("DELETE")) == 1


def test_fix_webhooks_with_the_task_queue_down_says_queued_and_runs_once_it_answers(
    admin_client, audited, sandbox, broken_broker, expected_webhooks
):
    sid = audited["drift"].twilio_number_sid

    response = admin_client.post(reverse("admin:telephony_audit_fix"), follow=True)

    assert any("1 number" in m and "queued" in m and "when the task queue answers" in m for m in said(response))
    assert not any("sent" in m for m in said(response)), said(response)
    assert sandbox.api_requests("POST", sid) == []
    assert "queued for re-send" in finding_html(response.content.decode(), sid, "webhook_drift")

    beat_tick_with_the_task_queue_back()

    (number,) = [n for n in sandbox.owned_numbers() if n["sid"] == sid]
    assert number["voice_url"] == expected_webhooks["voice"]
    assert NumberEvent.objects.filter(kind=NumberEvent.Kind.WEBHOOKS_UPDATED, phone_sid=sid).count() == 1


def test_adopt_with_the_task_queue_down_says_queued_and_runs_once_it_answers(admin_client, audited, sandbox, broken_broker):
    sid = audited["adoptable"]

    response = admin_client.post(reverse("admin:telephony_audit_adopt"), {"sid": sid}, follow=True)

    assert any("+15125550190" in m and "Lost Dental" in m and "queued" in m for m in said(response)), said(response)
    assert not Clinic.objects.filter(twilio_number_sid=sid).exists()

    beat_tick_with_the_task_queue_back()

    audited["lost"].refresh_from_db()
    assert audited["lost"].twilio_number_sid == sid
