"""The number audit and `manage.py telephony_doctor`, each problem built in the sandbox Twilio."""

import json

import pytest
from django.urls import reverse

from clinics.models import ChecklistItem, Clinic, NumberState, OnboardingStep
from telephony.models import AuditRun
from telephony.numbers import audit
from telephony.numbers import doctor as doctor_checks
from tests.conftest import PUBLIC_BASE_URL
from tests.factories import ClinicFactory
from tests.telephony.numbers.sandbox_numbers import GOOD, clinic_with_number, doctor

pytestmark = pytest.mark.django_db(transaction=True)


def codes(findings):
    return sorted(f.code for f in findings)


@pytest.fixture(autouse=True)
def production_like(settings):
    """A configuration the doctor accepts, so tests see only the numbers' findings."""
    settings.API_BASE_URL = PUBLIC_BASE_URL
    settings.AI_AGENT_STREAM_URL = "wss://agent.example.com/stream"
    settings.TWILIO_SANDBOX = False


def hipaa_confirmed(*clinics: Clinic) -> None:
    """Staff confirmed each clinic's Twilio account HIPAA-enabled (else the doctor warns in production)."""
    for clinic in clinics:
        ChecklistItem.objects.create(clinic=clinic, step=OnboardingStep.HIPAA_CONFIRMED)


def test_a_healthy_account_is_clean(sandbox):
    hipaa_confirmed(clinic_with_number(sandbox, "+15125550101", "Good Dental"))

    assert audit.number_audit().findings == []
    code, out = doctor()
    assert code == 0 and "All good" in out


def test_drifted_webhook_names_the_field_the_value_found_and_expected(sandbox):
    clinic_with_number(sandbox, "+15125550101", "Drift Dental", voice_url="https://old-tunnel.example.net/inbound/voice")

    (finding,) = audit.number_audit().findings

    assert finding.code == "webhook_drift" and finding.clinic_name == "Drift Dental"
    assert "Voice URL is 'https://old-tunnel.example.net/inbound/voice'" in finding.message
    assert f"should be '{PUBLIC_BASE_URL}/inbound/voice'" in finding.message
    assert "another host" in finding.message
    assert finding.details == {
        "field": "voice_url",
        "found": "https://old-tunnel.example.net/inbound/voice",
        "expected": f"{PUBLIC_BASE_URL}/inbound/voice",
    }


def test_the_classic_sms_inbound_mistake_is_recognised_by_name(sandbox):
    clinic_with_number(sandbox, "+15125550101", "Path Dental", sms_url=f"{PUBLIC_BASE_URL}/sms/inbound")

    (finding,) = audit.number_audit().findings

    assert finding.code == "sms_path_mistake"
    assert "'/sms/inbound' instead of '/api/sms/inbound'" in finding.message
    assert "classic /sms/inbound mistake" in finding.message


def test_wrong_method_is_a_finding(sandbox):
    clinic_with_number(sandbox, "+15125550101", "Method Dental", voice_method="GET")

    (finding,) = audit.number_audit().findings

    assert finding.details["field"] == "voice_method" and "'GET'" in finding.message


def test_number_without_sms_capability(sandbox):
    clinic_with_number(sandbox, "+15125550101", "Voice Only Dental", capabilities={"voice": True, "sms": False})

    (finding,) = audit.number_audit().findings

    assert finding.code == "no_sms"
    assert "cannot do SMS" in finding.message and "texts never arrive" in finding.message


def test_messaging_service_that_overrides_the_sms_url(sandbox):
    clinic = clinic_with_number(sandbox, "+15125550101", "Service Dental")
    sandbox._call(
        "POST",
        "messaging-services",
        {
            "friendly_name": "Marketing",
            "inbound_request_url": "https://mkt.example.com/in",
            "use_inbound_webhook_on_number": False,
            "number_sids": [clinic.twilio_number_sid],
        },
    )
    other = clinic_with_number(sandbox, "+15125550102", "Deferring Dental")
    sandbox._call(
        "POST",
        "messaging-services",
        {"friendly_name": "Defers", "use_inbound_webhook_on_number": True, "number_sids": [other.twilio_number_sid]},
    )

    (finding,) = audit.number_audit().findings

    assert finding.code == "messaging_service_override" and finding.clinic_id == clinic.id
    assert "Messaging Service 'Marketing'" in finding.message and "https://mkt.example.com/in" in finding.message


def test_orphan_that_names_a_clinic_without_a_number_can_be_adopted(sandbox):
    clinic = ClinicFactory(name="Lost Dental")
    sandbox.seed_numbers([{"phone_number": "+15125550103", "friendly_name": f"Lost Dental (clinic #{clinic.id})"}])
    sandbox.seed_numbers([{"phone_number": "+15125550104", "friendly_name": "Somebody's test number"}])

    findings = {f.phone_number: f for f in audit.number_audit().findings}

    assert findings["+15125550103"].code == "orphan_adoptable"
    assert f"identifies Lost Dental (clinic #{clinic.id})" in findings["+15125550103"].message
    assert findings["+15125550104"].code == "orphan" and "release_number --sid" in findings["+15125550104"].fix


def test_missing_number(sandbox):
    clinic = clinic_with_number(sandbox, "+15125550101", "Missing Dental")
    sandbox.remove_number(clinic.twilio_number_sid)

    (finding,) = audit.number_audit().findings

    assert finding.code == "missing" and "does not have it" in finding.message


def test_saved_number_and_sid_disagree_with_twilio(sandbox):
    clinic = clinic_with_number(sandbox, "+15125550101", "Mixed Dental")
    Clinic.objects.filter(pk=clinic.pk).update(twilio_number="+15125550199")

    (finding,) = audit.number_audit().findings

    assert finding.code == "mismatch"
    assert "saved the number +15125550199" in finding.message and "+15125550101" in finding.message


def test_doctor_fix_and_adopt_repair_what_is_safe_then_report_clean(sandbox, expected_webhooks):
    drift = clinic_with_number(sandbox, "+15125550101", "Drift Dental", voice_url="https://old.example.net/inbound/voice")
    sms = clinic_with_number(sandbox, "+15125550102", "Path Dental", sms_url=f"{PUBLIC_BASE_URL}/sms/inbound", status_callback="")
    lost = ClinicFactory(name="Lost Dental")
    hipaa_confirmed(drift, sms, lost)
    sandbox.seed_numbers([{"phone_number": "+15125550103", "friendly_name": f"Lost Dental (clinic #{lost.id})"}])

    code, out = doctor()
    assert code == 2
    assert "Errors (3)" in out and "Warnings (1)" in out and "fix:" in out

    code, out = doctor("--fix", "--adopt")

    assert code == 0, out
    assert "Reset the webhooks of +15125550101" in out and "Adopted +15125550103" in out
    assert "All good" in out
    lost.refresh_from_db()
    assert lost.twilio_number == "+15125550103" and lost.number_state == NumberState.ACTIVE
    assert all(
        n["voice_url"] == expected_webhooks["voice"] and n["sms_url"] == expected_webhooks["sms"] for n in sandbox.owned_numbers()
    )
    assert audit.number_audit().findings == []
    assert sandbox.owned_numbers() and len(sandbox.owned_numbers()) == 3  # nothing released


@pytest.mark.django_db  # rolls back: needs no real commit (tests/conftest.py checks it)
def test_doctor_json_and_exit_codes(sandbox):
    sandbox.seed_numbers([{"phone_number": "+15125550104", "friendly_name": "Spare"}])

    code, out = doctor("--json")

    report = json.loads(out)
    assert code == 1 and report["exit_code"] == 1 and report["ok"] is False
    assert [f["code"] for f in report["findings"]] == ["orphan"]
    assert report["numbers_checked"] == 1


@pytest.mark.django_db  # rolls back: needs no real commit (tests/conftest.py checks it)
def test_doctor_exits_3_when_twilio_cannot_be_reached(sandbox, settings):
    settings.TWILIO_API_BASE_URL = "http://127.0.0.1:9"  # nothing listens

    code, out = doctor()

    assert code == 3 and "could not run" in out
    assert "Twilio could not be reached" in out and "TWILIO_API_BASE_URL" in out


@pytest.mark.django_db  # rolls back: needs no real commit (tests/conftest.py checks it)
@pytest.mark.parametrize(
    ("base", "code"),
    [
        ("http://localhost:8000", "api_base_url_not_public"),
        ("https://127.0.0.1", "api_base_url_not_public"),
        ("https://10.1.2.3", "api_base_url_not_public"),
        ("https://192.168.1.20", "api_base_url_not_public"),
        ("https://169.254.1.1", "api_base_url_not_public"),
        ("https://dentsignal.local", "api_base_url_not_public"),
        ("http://dentsignal.example.com", "api_base_url_not_https"),
        ("", "api_base_url_missing"),
    ],
)
def test_config_check_finds_unreachable_api_base_url(settings, base, code):
    settings.API_BASE_URL = base

    found = codes(doctor_checks.config_check())

    assert code in found


@pytest.mark.django_db  # rolls back: needs no real commit (tests/conftest.py checks it)
def test_config_check_reports_bad_credentials_and_agent_url(settings):
    settings.TWILIO_AUTH_TOKEN = "wrong-token-wrong-token-wrong-to"
    settings.AI_AGENT_STREAM_URL = "https://agent.example.com"

    found = {f.code: f for f in doctor_checks.config_check()}

    assert "credentials" in found and "TWILIO_AUTH_TOKEN" in found["credentials"].fix
    assert "ai_agent_not_wss" in found


@pytest.mark.django_db  # rolls back: needs no real commit (tests/conftest.py checks it)
def test_clean_configuration_has_no_findings(settings):
    assert doctor_checks.config_check() == []


def test_3000_numbers_cost_3_list_calls_and_constant_queries(sandbox, django_assert_num_queries):
    sandbox.seed_numbers([{"phone_number": f"+1737555{i:04d}", **GOOD} for i in range(3000)])
    few = [ClinicFactory() for _ in range(3)]

    # Two for the clinics, one for the hosted SMS orders, one for the port-ins past their target date.
    with django_assert_num_queries(4):
        small = audit.number_audit()
    ClinicFactory.create_batch(200)
    sandbox._call("DELETE", "requests")
    with django_assert_num_queries(4):
        big = audit.number_audit()

    assert small.numbers_checked == big.numbers_checked == 3000
    assert big.clinics_checked == len(few) + 200
    lists = [r for r in sandbox.requests() if r["method"] == "GET" and r["path"].endswith("/IncomingPhoneNumbers.json")]
    assert len(lists) == 3
    assert all(r["query"]["PageSize"] == "1000" for r in lists)


def test_admin_number_audit_page_runs_shows_fixes_and_adopts(admin_client, sandbox):
    clinic_with_number(sandbox, "+15125550101", "Drift Dental", voice_url="https://old.example.net/inbound/voice")
    lost = ClinicFactory(name="Lost Dental")
    (orphan_sid,) = sandbox.seed_numbers([{"phone_number": "+15125550103", "friendly_name": f"Lost Dental (clinic #{lost.id})"}])
    page_url = reverse("admin:telephony_auditrun_changelist")

    assert b"No audit has run yet" in admin_client.get(page_url).content
    page = admin_client.post(reverse("admin:telephony_audit_run"), follow=True)

    body = page.content.decode()
    run = AuditRun.objects.get()
    assert run.status == AuditRun.Status.DONE and run.finished_at
    assert "Voice URL is" in body and "Fix webhooks" in body and "Adopt for Lost Dental" in body

    admin_client.post(reverse("admin:telephony_audit_fix"), {"sid": ""})
    admin_client.post(reverse("admin:telephony_audit_adopt"), {"sid": orphan_sid})
    page = admin_client.post(reverse("admin:telephony_audit_run"), follow=True)

    assert "All good" in page.content.decode()
    lost.refresh_from_db()
    assert lost.twilio_number_sid == orphan_sid


@pytest.mark.django_db  # rolls back: needs no real commit (tests/conftest.py checks it)
def test_non_staff_cannot_see_the_audit(client, django_user_model):
    # force_login: django-axes wants the request that client.login() does not pass to authenticate().
    client.force_login(django_user_model.objects.create_user(username="u", password="pw-user-12345"))

    assert client.get(reverse("admin:telephony_auditrun_changelist")).status_code == 302
    assert client.post(reverse("admin:telephony_audit_run")).status_code == 302
    assert AuditRun.objects.count() == 0
