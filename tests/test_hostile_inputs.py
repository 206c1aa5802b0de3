"""Hostile and malformed input on every surface: a clear 4xx or error, nothing bought, nothing written, no 500."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.conf import settings
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from twilio.request_validator import RequestValidator

from clinics.models import ChecklistItem, Clinic, NumberEvent, NumberState, Patient
from telephony.models import ApiToken, CallLog, MessageLog
from tests.admin_api import api_post
from tests.conftest import PUBLIC_BASE_URL
from tests.factories import ClinicFactory
from tests.permissions import onboarding_staff_group

pytestmark = pytest.mark.django_db(transaction=True)

HOSTILE_STRINGS = [
    "",
    " ",
    "\x00",
    "' OR 1=1; DROP TABLE clients; --",
    "<script>alert(1)</script>",
    "５１２",
    "🦷🦷🦷",
    "x" * 10_000,
    "512\n513",
    "%00%ff",
    "-1",
    "99999999999999999999999999",
]
HOSTILE_IDS = [-1, 0, 2**63, 2**80, "1; DROP TABLE clients", "abc", None, True, 1.5, [1], {"id": 1}, ""]


def snapshot():
    """Everything a request could write."""
    return (
        list(Clinic.objects.values_list("id", "number_state", "twilio_number", "pending_number").order_by("id")),
        NumberEvent.objects.count(),
        ChecklistItem.objects.count(),
        CallLog.objects.count(),
        MessageLog.objects.count(),
        Patient.objects.count(),
    )


@pytest.fixture
def clinic():
    return ClinicFactory()


@pytest.fixture
def token(django_user_model):
    user = django_user_model.objects.create_user(username="ops", password="pw-ops-123456", is_staff=True)
    user.groups.add(onboarding_staff_group())  # so the input, not the permission, is what fails
    return ApiToken.issue(user=user)[1]


@pytest.mark.parametrize("value", [*HOSTILE_STRINGS, None, 12, -512, 5.12, True, [], {}])
def test_api_area_code(client, token, clinic, sandbox, value):
    before = snapshot()

    response = api_post(client, token, {"clinic_id": clinic.id, "area_code": value})

    assert response.status_code == 400, response.content
    assert "area_code" in response.json()["errors"]
    assert snapshot() == before and sandbox.owned_numbers() == []


@pytest.mark.django_db  # rolls back: needs no real commit (tests/conftest.py checks it)
@pytest.mark.parametrize("value", HOSTILE_IDS)
def test_api_clinic_id(client, token, sandbox, value):
    before = snapshot()

    response = api_post(client, token, {"clinic_id": value, "area_code": "512"})

    assert response.status_code in (400, 404), response.content
    assert response["Content-Type"] == "application/json"
    assert snapshot() == before and sandbox.owned_numbers() == []


@pytest.mark.django_db  # rolls back: needs no real commit (tests/conftest.py checks it)
@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"{", "application/json"),
        (b"null", "application/json"),
        (b"\xc3\x28", "application/json"),
        (b'{"clinic_id": 1, "area_code": "512"' + b" " * 10, "application/json"),
        (b"clinic_id=1&area_code=512", "application/x-www-form-urlencoded"),
        (b'--b\r\nContent-Disposition: form-data; name="x"\r\n\r\n1\r\n--b--', "multipart/form-data; boundary=b"),
        (b'{"clinic_id": 1}', "text/plain"),
        (b'{"clinic_id": 1}', "application/json-patch+json"),
        (json.dumps({"clinic_id": 1, "area_code": "512", "nested": {"a": [1] * 1000}}).encode(), "application/json"),
        (b'{"clinic_id": ' + b"9" * 5000 + b"}", "application/json"),
    ],
)
def test_api_malformed_bodies(client, token, sandbox, body, content_type):
    before = snapshot()

    response = api_post(client, token, body, content_type=content_type)

    assert 400 <= response.status_code < 500
    assert response.json()["error"]
    assert snapshot() == before and sandbox.owned_numbers() == []


@pytest.mark.django_db  # rolls back: needs no real commit (tests/conftest.py checks it)
@pytest.mark.parametrize("opening", [b"[", b'{"a":'])
def test_api_deeply_nested_json_is_a_400_not_a_500(client, token, sandbox, opening):
    before = snapshot()
    depth = 100_000  # far beyond the interpreter's recursion limit

    response = api_post(client, token, opening * depth + b"1" + (b"]" if opening == b"[" else b"}") * depth)

    assert response.status_code == 400 and response["Content-Type"] == "application/json"
    assert "nested too deeply" in response.json()["error"]
    assert snapshot() == before and sandbox.owned_numbers() == []


@pytest.mark.django_db  # rolls back: needs no real commit (tests/conftest.py checks it)
@pytest.mark.parametrize(
    "path",
    [
        "/api/admin/clinics/-1/number",
        "/api/admin/clinics/99999999999999999999999/number",
        "/api/admin/clinics/abc/number",
        "/api/admin/clinics/%00/number",
    ],
)
def test_api_status_url_ids(client, token, path):
    response = client.get(path, HTTP_AUTHORIZATION=f"Bearer {token}")

    assert response.status_code == 404 and response["Content-Type"] == "application/json"


@pytest.mark.parametrize("value", HOSTILE_STRINGS)
def test_admin_provision_form(admin_client, clinic, sandbox, value):
    before = snapshot()

    page = admin_client.post(
        reverse("admin:clinics_clinic_changelist"),
        {
            "action": "provision_number",
            ACTION_CHECKBOX_NAME: [clinic.pk],
            "apply": "1",
            "area_code": value,
            "friendly_name": value,
        },
    )

    assert page.status_code == 200
    assert page.context["form"].errors
    assert b"<script>alert(1)</script>" not in page.content
    assert snapshot() == before and sandbox.owned_numbers() == []


@pytest.mark.parametrize("selected", [["abc"], ["-1"], ["99999999999999999999"], ["1; DROP TABLE clients"], [""]])
def test_admin_action_with_hostile_selection(admin_client, clinic, sandbox, selected):
    before = snapshot()

    response = admin_client.post(
        reverse("admin:clinics_clinic_changelist"),
        {"action": "provision_number", ACTION_CHECKBOX_NAME: selected, "apply": "1", "area_code": "512"},
    )

    assert response.status_code in (200, 302, 400)
    assert snapshot() == before and sandbox.owned_numbers() == []


# Issue 20 (non-ASCII digits): str.isdigit() is true for "²", which int() refuses.
@pytest.mark.parametrize("object_id", ["²", "¹²"])
@pytest.mark.parametrize("page", ["change", "history"])
def test_admin_clinic_page_with_a_non_ascii_digit_id_says_it_is_missing(admin_client, clinic, object_id, page):
    response = admin_client.get(f"/admin/clinics/clinic/{object_id}/{page}/", follow=True)

    assert response.status_code == 200
    assert "doesn’t exist" in response.content.decode()  # Django's own message for a missing object


@pytest.mark.parametrize(
    "args",
    [
        ("provision_number", "abc", "512"),
        ("provision_number", "-1", "512"),
        ("provision_number", "99999999999999999999", "512"),
        ("provision_number", "CLINIC", "' OR 1=1 --"),
        ("provision_number", "CLINIC", "🦷"),
        ("provision_number", "CLINIC", ""),
        ("release_number", "--sid", "<script>", "--yes"),
        ("release_number", "--clinic", "abc", "--yes"),
        ("update_webhooks", "--sid", "x" * 5000),
        ("twilio_sign_request", "voice", "not-a-pair"),
        ("create_api_token", "' OR 1=1 --"),
    ],
)
def test_management_commands(clinic, sandbox, args):
    before = snapshot()
    args = tuple(str(clinic.id) if a == "CLINIC" else a for a in args)

    with pytest.raises((CommandError, SystemExit)):
        call_command(*args, stdout=StringIO(), stderr=StringIO())

    assert snapshot() == before and sandbox.owned_numbers() == []


def signed(client, path, params):
    signature = RequestValidator(settings.TWILIO_AUTH_TOKEN).compute_signature(PUBLIC_BASE_URL + path, params)
    return client.post(path, params, HTTP_X_TWILIO_SIGNATURE=signature)


@pytest.mark.django_db  # rolls back: needs no real commit (tests/conftest.py checks it)
@pytest.mark.parametrize("path", ["/inbound/voice", "/api/sms/inbound", "/twilio/status"])
@pytest.mark.parametrize("sid", ["", "x" * 500, "SM' OR 1=1 --", "CA🦷", "SM" + "g" * 32])
def test_webhooks_with_bad_sids_write_nothing(client, path, sid):
    before = snapshot()
    params = {
        "CallSid": sid,
        "MessageSid": sid,
        "From": "+15125550999",
        "To": "+15125550142",
        "Body": "C",
        "CallStatus": "completed",
        "MessageStatus": "delivered",
    }

    response = signed(client, path, params)

    assert response.status_code in (200, 400), response.content  # voice still answers the caller
    assert snapshot() == before


@pytest.mark.parametrize("value", HOSTILE_STRINGS)
def test_webhooks_with_odd_but_signed_values_never_500(client, value):
    clinic = ClinicFactory(twilio_number="+15125550142", twilio_number_sid="PN" + "1" * 32, number_state=NumberState.ACTIVE)
    sid = "SM" + "a" * 32

    sms = signed(client, "/api/sms/inbound", {"MessageSid": sid, "From": value, "To": value or "+15125550142", "Body": value})
    voice = signed(client, "/inbound/voice", {"CallSid": "CA" + "a" * 32, "From": value, "To": value, "CallStatus": value})
    status = signed(
        client,
        "/twilio/status",
        {"CallSid": "CA" + "a" * 32, "CallStatus": value, "CallDuration": value, "SequenceNumber": value},
    )

    assert sms.status_code == 200 and voice.status_code == 200
    assert status.status_code == (204 if value.replace("\x00", "") else 400)  # an empty CallStatus is malformed
    clinic.refresh_from_db()
    assert clinic.number_state == NumberState.ACTIVE


@pytest.mark.django_db  # rolls back: needs no real commit (tests/conftest.py checks it)
def test_webhook_with_a_json_body_is_refused(client):
    response = client.post(
        "/api/sms/inbound", b'{"MessageSid": "SM"}', content_type="application/json", HTTP_X_TWILIO_SIGNATURE="abc"
    )

    assert response.status_code == 403


# ------------------------------------------------------------------- control characters in names

# Every C0 control (tab and line breaks too: these are one-line names), DEL, a C1 control,
# the line/paragraph separators and a non-character.
CONTROL_CHARACTERS = [chr(c) for c in range(0x20)] + ["\x7f", "\x85", "\u2028", "\u2029", "\uffff"]
PRINTABLE_NAMES = ["O'Brien & Sons <Dental>", "Zoë's Zahnarztpraxis – 歯科", "Smile 😀 Dental", "Dr. Ng (Suite #4)"]


@pytest.mark.django_db  # rolls back: needs no real commit (tests/conftest.py checks it)
@pytest.mark.parametrize("char", CONTROL_CHARACTERS, ids=lambda c: f"U+{ord(c):04X}")
def test_validator_refuses_each_control_character_and_says_where(char):
    from django.core.exceptions import ValidationError

    from clinics.validators import text_validate_printable

    with pytest.raises(ValidationError) as refused:
        text_validate_printable(f"Smile{char}Dental")

    assert f"U+{ord(char):04X} (character 6)" in refused.value.messages[0]


@pytest.mark.django_db  # rolls back: needs no real commit (tests/conftest.py checks it)
@pytest.mark.parametrize("name", PRINTABLE_NAMES)
def test_validator_accepts_printable_names_of_any_script(name):
    from clinics.validators import text_validate_printable

    text_validate_printable(name)


# Issue 20: the explicit bidirectional embeddings, overrides and isolates reorder what
# follows them ("Smile\u202eltneD" shows as "SmileDentl"), so a name could read differently
# from what is stored, searched and sent to Twilio.
BIDI_CONTROLS = [chr(c) for c in range(0x202A, 0x202F)] + [chr(c) for c in range(0x2066, 0x206A)]
# The implicit marks (LRM, RLM, ALM) reorder nothing by themselves and right-to-left names
# need them beside digits and punctuation; joiners make emoji sequences and Persian names.
BIDI_MARKS_AND_JOINERS = ["\u200e", "\u200f", "\u061c", "\u200d", "\u200c"]


@pytest.mark.django_db  # rolls back: needs no real commit (tests/conftest.py checks it)
@pytest.mark.parametrize("char", BIDI_CONTROLS, ids=lambda c: f"U+{ord(c):04X}")
def test_validator_refuses_each_bidirectional_control_and_says_where(char):
    from django.core.exceptions import ValidationError

    from clinics.validators import text_validate_printable

    with pytest.raises(ValidationError) as refused:
        text_validate_printable(f"Smile{char}Dental")

    [message] = refused.value.messages
    assert f"Remove the text-direction control U+{ord(char):04X} (character 6)" in message


@pytest.mark.django_db  # rolls back: needs no real commit (tests/conftest.py checks it)
@pytest.mark.parametrize("char", BIDI_MARKS_AND_JOINERS, ids=lambda c: f"U+{ord(c):04X}")
def test_validator_accepts_direction_marks_and_joiners(char):
    from clinics.validators import text_validate_printable

    text_validate_printable(f"מרפאת שיניים{char} (Suite 4)")


def test_admin_refuses_a_clinic_name_with_a_right_to_left_override(admin_client, clinic):
    before = snapshot()

    page = admin_client.post(
        reverse("admin:clinics_clinic_change", args=[clinic.pk]), {"name": "Smile\u202eltneD", "office_phone": ""}
    )

    assert page.status_code == 200
    assert any("U+202E (character 6)" in m for m in page.context["adminform"].form.errors["name"])
    assert snapshot() == before and Clinic.objects.get(pk=clinic.pk).name == clinic.name


@pytest.mark.parametrize("char", ["\x0b", "\x00", "\n", "\x1b", "\x85", "\u2028"], ids=lambda c: f"U+{ord(c):04X}")
def test_admin_refuses_a_clinic_name_with_a_control_character(admin_client, clinic, char):
    before = snapshot()
    name = f"Smile{char}Dental"

    added = admin_client.post(reverse("admin:clinics_clinic_add"), {"name": name, "office_phone": ""})
    changed = admin_client.post(
        reverse("admin:clinics_clinic_change", args=[clinic.pk]), {"name": name, "office_phone": clinic.office_phone}
    )

    for page in (added, changed):
        assert page.status_code == 200  # the form again, with the error; no redirect
        messages = page.context["adminform"].form.errors["name"]
        # Django's form field refuses NUL itself, before the model's validator runs.
        expected = "Null characters are not allowed." if char == "\x00" else f"U+{ord(char):04X}"
        assert any(expected in m for m in messages)
    assert snapshot() == before and Clinic.objects.get(pk=clinic.pk).name == clinic.name


def test_admin_saves_a_printable_clinic_name(admin_client, clinic):
    inline = {"number_events-TOTAL_FORMS": "0", "number_events-INITIAL_FORMS": "0"}  # the history inline's formset

    page = admin_client.post(
        reverse("admin:clinics_clinic_change", args=[clinic.pk]), {"name": PRINTABLE_NAMES[1], "office_phone": "", **inline}
    )

    assert page.status_code == 302, page.context["adminform"].form.errors
    assert Clinic.objects.get(pk=clinic.pk).name == PRINTABLE_NAMES[1]


def test_admin_refuses_a_patient_name_with_a_control_character(admin_client, clinic):
    before = snapshot()

    page = admin_client.post(
        reverse("admin:clinics_patient_add"), {"clinic": clinic.pk, "name": "Pat\x08rick", "phone": "+15125550999"}
    )

    assert page.status_code == 200 and "U+0008" in page.context["adminform"].form.errors["name"][0]
    assert snapshot() == before


@pytest.mark.parametrize("char", ["\x0b", "\x00", "\r", "\x7f"], ids=lambda c: f"U+{ord(c):04X}")
def test_api_refuses_a_friendly_name_with_a_control_character(client, token, clinic, sandbox, char):
    before = snapshot()

    response = api_post(client, token, {"clinic_id": clinic.id, "area_code": "512", "friendly_name": f"Smile{char}Dental"})

    assert response.status_code == 400
    assert any(f"U+{ord(char):04X}" in m for m in response.json()["errors"]["friendly_name"])
    assert snapshot() == before and sandbox.requests() == []


def test_admin_provision_form_refuses_a_friendly_name_with_a_control_character(admin_client, clinic, sandbox):
    before = snapshot()

    page = admin_client.post(
        reverse("admin:clinics_clinic_provision", args=[clinic.pk]),
        {"apply": "1", "area_code": "512", "friendly_name": "Smile\x0bDental"},
    )

    assert page.status_code == 200 and "U+000B" in page.context["form"].errors["friendly_name"][0]
    assert snapshot() == before and sandbox.requests() == []
