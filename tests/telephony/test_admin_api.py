"""POST /api/admin/provision-number and the number status URL."""

import json

import pytest
from django.core.management import call_command

from clinics.models import Clinic, NumberState
from telephony.models import ApiToken
from tests.factories import ClinicFactory

# Real commits: provisioning is enqueued with transaction.on_commit.
pytestmark = pytest.mark.django_db(transaction=True)
URL = "/api/admin/provision-number"


@pytest.fixture
def token(staff_user):
    return ApiToken.issue(user=staff_user, name="tests")[1]


def post(client, body, token=None, content_type="application/json", **headers):
    if token:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return client.post(URL, data=data, content_type=content_type, **headers)


def test_token_provisions_and_202_shows_the_result(client, token, sandbox, expected_webhooks):
    clinic = ClinicFactory(name="Austin Dental")

    response = post(client, {"clinic_id": clinic.id, "area_code": "512", "friendly_name": "Austin Dental"}, token)

    assert response.status_code == 202
    body = response.json()
    assert body["state"] == NumberState.ACTIVE
    assert body["phone_number"].startswith("+1512")
    assert body["sid"].startswith("PN")
    assert body["webhooks"] == expected_webhooks
    assert body["status_url"] == f"/api/admin/clinics/{clinic.id}/number"
    assert response["Location"] == body["status_url"]

    status = client.get(body["status_url"], HTTP_AUTHORIZATION=f"Bearer {token}")
    assert status.status_code == 200
    assert status.json()["sid"] == body["sid"]
    assert len(sandbox.owned_numbers()) == 1


@pytest.mark.django_db  # rolls back: needs no real commit (tests/conftest.py checks it)
def test_token_is_stored_hashed(token):
    stored = ApiToken.objects.get()
    assert token not in (stored.key_hash, stored.key_prefix)
    assert stored.key_hash != token and len(stored.key_hash) == 64


def test_staff_session_may_call_it_with_csrf(client, staff_user, sandbox):
    clinic = ClinicFactory()
    client.force_login(staff_user)

    response = post(client, {"clinic_id": clinic.id, "area_code": "512"})

    assert response.status_code == 202


def test_session_without_csrf_token_is_refused(staff_user, sandbox):
    from django.test import Client

    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(staff_user)
    clinic = ClinicFactory()

    response = post(csrf_client, {"clinic_id": clinic.id, "area_code": "512"})

    assert response.status_code == 403
    assert "CSRF" in response.json()["error"]
    assert sandbox.requests() == []


def test_anonymous_is_refused(client, sandbox):
    clinic = ClinicFactory()

    response = post(client, {"clinic_id": clinic.id, "area_code": "512"})

    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert sandbox.requests() == []


def test_non_staff_user_and_their_token_are_refused(client, django_user_model, sandbox):
    user = django_user_model.objects.create_user(username="frontdesk", password="pw-frontdesk-1")
    raw = ApiToken.issue(user=user)[1]
    clinic = ClinicFactory()

    by_token = post(client, {"clinic_id": clinic.id, "area_code": "512"}, raw)
    client.force_login(user)
    by_session = post(client, {"clinic_id": clinic.id, "area_code": "512"})

    assert by_token.status_code == 403 and by_session.status_code == 403
    assert sandbox.requests() == []


@pytest.mark.django_db  # rolls back: needs no real commit (tests/conftest.py checks it)
@pytest.mark.parametrize("header", ["Bearer nope", "Bearer ", "Token abc", "Basic YTpi"])
def test_bad_tokens_are_refused(client, sandbox, header):
    response = client.post(URL, data="{}", content_type="application/json", HTTP_AUTHORIZATION=header)

    assert response.status_code == 401
    assert "error" in response.json()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"area_code": "512"}, "clinic_id"),
        ({"clinic_id": "abc", "area_code": "512"}, "clinic_id"),
        ({"clinic_id": -1, "area_code": "512"}, "clinic_id"),
        ({"clinic_id": 0, "area_code": "512"}, "clinic_id"),
        ({"clinic_id": 2**80, "area_code": "512"}, "clinic_id"),
        ({"clinic_id": True, "area_code": "512"}, "clinic_id"),
        ({"clinic_id": 1.5, "area_code": "512"}, "clinic_id"),
        ({"clinic_id": [1], "area_code": "512"}, "clinic_id"),
        ({"clinic_id": "CLINIC", "area_code": None}, "area_code"),
        ({"clinic_id": "CLINIC"}, "area_code"),
        ({"clinic_id": "CLINIC", "area_code": "51"}, "area_code"),
        ({"clinic_id": "CLINIC", "area_code": "5123"}, "area_code"),
        ({"clinic_id": "CLINIC", "area_code": "0512"[:3]}, "area_code"),
        ({"clinic_id": "CLINIC", "area_code": "' OR 1=1 --"}, "area_code"),
        ({"clinic_id": "CLINIC", "area_code": "５１２"}, "area_code"),
        ({"clinic_id": "CLINIC", "area_code": {"x": 1}}, "area_code"),
        ({"clinic_id": "CLINIC", "area_code": "512", "friendly_name": "x" * 200}, "friendly_name"),
        ({"clinic_id": "CLINIC", "area_code": "512", "friendly_name": 12.5}, "friendly_name"),
        ({"clinic_id": "CLINIC", "area_code": "512", "extra": 1}, "extra"),
    ],
)
def test_bad_fields_get_400_per_field_and_nothing_is_bought(client, token, sandbox, body, field):
    clinic = ClinicFactory()
    body = {k: (clinic.id if v == "CLINIC" else v) for k, v in body.items()}

    response = post(client, body, token)

    assert response.status_code == 400
    payload = response.json()
    assert field in payload["errors"], payload
    assert sandbox.requests() == []
    clinic.refresh_from_db()
    assert clinic.number_state == NumberState.NONE


@pytest.mark.django_db  # rolls back: needs no real commit (tests/conftest.py checks it)
@pytest.mark.parametrize(
    ("data", "content_type", "status"),
    [
        (b"{not json", "application/json", 400),
        (b"\xff\xfe", "application/json", 400),
        (b"[1, 2]", "application/json", 400),
        (b'"512"', "application/json", 400),
        (b"  ", "application/json", 400),
        (b"clinic_id=1&area_code=512", "application/x-www-form-urlencoded", 415),
        (b"<xml/>", "text/xml", 415),
    ],
)
def test_malformed_bodies_get_a_json_4xx(client, token, sandbox, data, content_type, status):
    response = post(client, data, token, content_type=content_type)

    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]
    assert sandbox.requests() == []


@pytest.mark.django_db  # rolls back: needs no real commit (tests/conftest.py checks it)
def test_huge_body_is_refused(client, token, sandbox, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    response = post(client, {"clinic_id": 1, "area_code": "512", "friendly_name": "x" * 5000}, token)

    assert response.status_code == 413
    assert sandbox.requests() == []


@pytest.mark.django_db  # rolls back: needs no real commit (tests/conftest.py checks it)
def test_unknown_clinic_is_404(client, token, sandbox):
    response = post(client, {"clinic_id": 999999, "area_code": "512"}, token)

    assert response.status_code == 404
    assert "999999" in response.json()["error"]
    assert sandbox.requests() == []


def test_clinic_with_a_number_is_409_and_nothing_more_is_bought(client, token, sandbox):
    clinic = ClinicFactory()
    assert post(client, {"clinic_id": clinic.id, "area_code": "512"}, token).status_code == 202

    again = post(client, {"clinic_id": clinic.id, "area_code": "512"}, token)

    assert again.status_code == 409
    assert "already has the number" in again.json()["error"]
    assert len(sandbox.owned_numbers()) == 1


@pytest.mark.django_db  # rolls back: needs no real commit (tests/conftest.py checks it)
def test_wrong_method_is_a_json_405(client, token):
    response = client.get(URL, HTTP_AUTHORIZATION=f"Bearer {token}")

    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert response.json()["error"]


@pytest.mark.django_db  # rolls back: needs no real commit (tests/conftest.py checks it)
def test_status_url_of_unknown_clinic_is_json_404(client, token):
    assert client.get("/api/admin/clinics/424242/number", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 404
    unknown = client.get("/api/admin/nothing-here")
    assert unknown.status_code == 404
    assert unknown["Content-Type"] == "application/json"


def test_nothing_for_sale_is_a_409_and_changes_nothing(client, token, sandbox):
    # Issue 16: a definite failure is a 4xx JSON error, not 202 with "state": "failed".
    sandbox.empty_area_code("907")
    clinic = ClinicFactory()

    response = post(client, {"clinic_id": clinic.id, "area_code": "907"}, token)

    assert response.status_code == 409
    body = response.json()
    assert "907" in body["error"] and body["code"] == 21452
    clinic.refresh_from_db()
    assert clinic.number_state == NumberState.NONE
    assert sandbox.api_requests("POST", "IncomingPhoneNumbers") == []


def test_create_api_token_command_prints_a_working_token(client, staff_user, capsys, sandbox):
    call_command("create_api_token", "staff", "--name", "script")
    raw = capsys.readouterr().out.strip()
    clinic = ClinicFactory()

    assert post(client, {"clinic_id": clinic.id, "area_code": "512"}, raw).status_code == 202
    assert Clinic.objects.get(pk=clinic.id).number_state == NumberState.ACTIVE


def test_api_may_pick_one_of_the_numbers_for_sale(client, token, sandbox):
    clinic = ClinicFactory()

    body = post(client, {"clinic_id": clinic.id, "area_code": "512", "phone_number": "+15125550105"}, token).json()

    assert body["state"] == NumberState.ACTIVE and body["phone_number"] == "+15125550105"


@pytest.mark.parametrize(("status", "code", "http"), [(500, 20500, 502), (429, 20429, 503), (400, 21421, 409)])
def test_a_purchase_that_failed_is_answered_as_a_failure_not_202(client, token, sandbox, status, code, http):
    """Issue 22: the API answered 202 with "state": "failed" when the purchase failed."""
    sandbox.fault(path="IncomingPhoneNumbers.json", status=status, code=code, message="no", times=50)
    clinic = ClinicFactory()

    response = post(client, {"clinic_id": clinic.id, "area_code": "512"}, token)

    clinic.refresh_from_db()
    assert clinic.number_state == NumberState.FAILED
    assert response.status_code == http
    body = response.json()
    assert (body["state"], body["error"], body["error_code"]) == ("failed", clinic.number_error, code)
