"""The admin HTTP API: provisioning for scripts. Answers are JSON, errors included."""

import functools
import json
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, JsonResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

from clinics import services as clinic_services
from clinics.forms import ApiProvisionNumberForm
from clinics.models import Clinic, NumberState
from telephony.auth import ApiAuthError, api_permission_require, api_staff_user
from telephony.numbers import buying
from telephony.numbers import search as number_search
from telephony.queue import QUEUED_FOR_RESEND
from telephony.ratelimit import rate_limit_hit
from telephony.twilio.errors import failure_http_status

ALLOWED_FIELDS = {"clinic_id", "area_code", "friendly_name", "phone_number"}


def json_error(status: int, message: str, **extra: Any) -> JsonResponse:
    """A JSON error answer: {"error": message, ...extra}."""
    return JsonResponse({"error": message, **extra}, status=status)


def clinic_number_status(clinic: Clinic) -> dict[str, Any]:
    """What the API shows about a clinic's number."""
    return {
        "clinic_id": clinic.id,
        "clinic_name": clinic.name,
        "state": clinic.number_state,
        "state_changed_at": clinic.number_state_changed_at.isoformat(),
        "phone_number": clinic.twilio_number,
        "sid": clinic.twilio_number_sid,
        "webhooks": clinic.twilio_webhooks or None,
        "error": clinic.number_error or None,
        "error_code": clinic.number_error_code,
        "status_url": reverse("api-clinic-number", args=[clinic.id]),
        **({"queued_for_resend": True, "message": RESEND_MESSAGE} if clinic.send_failed_at else {}),
    }


# What the API says when the task queue could not take the work (kept, re-sent by beat).
RESEND_MESSAGE = f"The request is saved, but {QUEUED_FOR_RESEND}. Check the status URL."


def domain_error_status(exc: clinic_services.ClinicNumberError) -> int:
    """The HTTP status for a refused change: 404 no such clinic, 400 bad input, else 409."""
    if isinstance(exc, clinic_services.ClinicNotFound):
        return 404
    if isinstance(exc, clinic_services.ClinicInputError):
        return 400
    return 409


def api_method(method: str) -> Callable:
    """Allow one HTTP method; anything else gets a JSON 405 with an Allow header."""

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
            if request.method != method:
                response = json_error(405, f"Use {method} on this URL.")
                response["Allow"] = method
                return response
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def _parse_body(request: HttpRequest) -> dict[str, Any]:
    content_type = request.content_type or ""
    if content_type != "application/json":
        raise ApiAuthError(415, "Send the body as JSON with 'Content-Type: application/json'.")
    try:
        body = request.body
    except RequestDataTooBig as exc:
        raise ApiAuthError(413, "The request body is too large.") from exc
    try:
        payload = json.loads(body.decode("utf-8"))
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, an integer over Python's 4300 digits
        raise ApiAuthError(400, f"The body is not valid JSON: {exc}.") from exc
    except RecursionError as exc:  # the parser recurses once per nesting level
        raise ApiAuthError(400, "The body is nested too deeply to be read; send a flat JSON object.") from exc
    if not isinstance(payload, dict):
        raise ApiAuthError(400, 'The body must be a JSON object like {"clinic_id": 1, "area_code": "512"}.')
    return payload


@csrf_exempt
@api_method("POST")
def provision_number(request: HttpRequest) -> JsonResponse:
    """POST /api/admin/provision-number {"clinic_id", "area_code" or "phone_number", "friendly_name"?} -> 202.

    A definite failure (nothing for sale, the picked number no longer for sale, Twilio
    refusing the search) is a 409 JSON error with Twilio's code; the clinic is unchanged.
    A purchase that has already failed when the answer is made (the task ran in-process)
    is answered with failure_http_status: 409, 502 or 503, the clinic's state and the sentence.
    """
    try:
        user = api_staff_user(request)
        api_permission_require(user, "clinics.provision_number")
    except ApiAuthError as exc:
        return json_error(exc.status, str(exc))
    wait = rate_limit_hit(key=f"provision:{user.pk}", rate=settings.API_PROVISION_RATE_LIMIT)
    if wait is not None:
        response = json_error(429, f"Too many provisioning requests; try again in {wait} s.", retry_after=wait)
        response["Retry-After"] = str(wait)
        return response
    try:
        payload = _parse_body(request)
    except ApiAuthError as exc:
        return json_error(exc.status, str(exc))
    unknown = sorted(set(payload) - ALLOWED_FIELDS)
    errors: dict[str, list[str]] = {name[:40]: ["Unknown field."] for name in unknown[:10]}
    for name in ALLOWED_FIELDS & set(payload):
        if not isinstance(payload[name], (str, int)) or isinstance(payload[name], bool):
            errors[name] = ["Must be a string or a number."]
    form = ApiProvisionNumberForm(data={k: v for k, v in payload.items() if k in ALLOWED_FIELDS and k not in errors})
    if not form.is_valid() or errors:
        for name, messages in form.errors.items():
            errors.setdefault(name, [str(message) for message in messages])
        return json_error(400, "Invalid input.", errors=errors)
    data = form.cleaned_data
    try:
        [requested] = buying.number_buy_request(
            clinic_ids=[data["clinic_id"]],
            area_code=data["area_code"],
            friendly_name=data["friendly_name"],
            phone_number=data["phone_number"],
            actor=user,
        )
    except number_search.NothingForSale as exc:
        return json_error(409, str(exc), code=exc.code)
    except number_search.TwilioError as exc:  # one a retry cannot help (the workflow lets the others go)
        return json_error(502 if exc.status is None or exc.status >= 500 else 409, str(exc), code=exc.code)
    if requested.refused is not None:
        return json_error(domain_error_status(requested.refused), str(requested.refused))
    # With eager Celery the task already ran on commit: show its outcome. A purchase that
    # already failed is a definite failure, answered as one (not 202 with "state": "failed").
    clinic = Clinic.objects.get(pk=requested.clinic_id)
    failed = clinic.number_state == NumberState.FAILED
    status = failure_http_status(clinic.number_error_code) if failed else 202
    response = JsonResponse(clinic_number_status(clinic), status=status)
    response["Location"] = reverse("api-clinic-number", args=[clinic.id])
    return response


@api_method("GET")
def clinic_number(request: HttpRequest, clinic_id: int) -> JsonResponse:
    """GET /api/admin/clinics/<id>/number: state, number, SID, webhooks, last error."""
    try:
        api_permission_require(api_staff_user(request), "clinics.view_clinic")
    except ApiAuthError as exc:
        return json_error(exc.status, str(exc))
    clinic = Clinic.objects.filter(pk=clinic_id).first() if clinic_id < 2**63 else None
    if clinic is None:
        return json_error(404, f"No clinic with id {clinic_id}.")
    return JsonResponse(clinic_number_status(clinic))
