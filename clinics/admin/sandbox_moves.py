"""The clinic page's sandbox-only buttons (TWILIO_SANDBOX=true, 404 otherwise) that play
Twilio's and the losing carrier's part on the paths that keep the clinic's number: move a
port-in on (sign the authorization, reject, complete), move a texting order on, and a call
forwarded from the published line. The same power as those paths' own buttons:
clinics.keep_existing_number (Onboarding staff). Each goes through telephony.numbers
(sandbox_moves, simulated_traffic), which then runs the app's own check."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin, messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect

from telephony import twilio
from telephony.numbers import sandbox_moves, simulated_traffic

from .. import services
from ..models import Clinic, HostedOrder, OnboardingPath
from ..models_porting import NumberPortIn
from ..phone import phone_format_national
from ..selectors import clinic_port_in_current
from .pages import KEEP_NUMBER_PERMISSION, clinic_for


def _run(modeladmin: admin.ModelAdmin, request: HttpRequest, clinic_id: int, act) -> HttpResponse:
    """A sandbox button's POST: the power first (a user without it learns nothing), then 404
    outside the sandbox; `act(clinic)` yields what staff are told."""
    clinic = clinic_for(request, clinic_id, KEEP_NUMBER_PERMISSION)
    if not settings.TWILIO_SANDBOX:
        raise Http404("Playing Twilio's part exists only with the sandbox Twilio.")
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    try:
        for level, said in act(clinic):
            modeladmin.message_user(request, f"{clinic.name}: {said}", level)
    except (twilio.TwilioError, services.ClinicNumberError) as exc:
        modeladmin.message_user(request, f"{clinic.name}: {exc}", messages.ERROR)
    return redirect("admin:clinics_clinic_change", clinic.pk)


def port_move_view(modeladmin: admin.ModelAdmin, request: HttpRequest, clinic_id: int, move: str) -> HttpResponse:
    """Do what Twilio or the losing carrier would do next to the port, then check it."""

    def act(clinic: Clinic):
        if move not in sandbox_moves.PORT_MOVES:
            raise Http404("No such step of a port.")
        port = clinic_port_in_current(clinic=clinic)
        if port is None:
            raise services.ClinicInputError("There is no port-in request for this clinic.")
        port = sandbox_moves.port_move(port_in_id=port.id, move=move)
        yield messages.SUCCESS, f"the port of {phone_format_national(port.phone_number)}: {port.get_state_display().lower()}."

    return _run(modeladmin, request, clinic_id, act)


def hosted_move_view(modeladmin: admin.ModelAdmin, request: HttpRequest, clinic_id: int) -> HttpResponse:
    """Move the texting order to its next status as Twilio would, then check it."""

    def act(clinic: Clinic):
        order = sandbox_moves.hosted_move(clinic_id=clinic.id)
        yield messages.SUCCESS, f"the texting order is {order.status_words}."

    return _run(modeladmin, request, clinic_id, act)


def forwarded_call_view(modeladmin: admin.ModelAdmin, request: HttpRequest, clinic_id: int) -> HttpResponse:
    """A patient's call to the published line, forwarded by its carrier to the clinic's
    Twilio number: Twilio's signed voice webhook with ForwardedFrom, as the checklist's evidence."""

    def act(clinic: Clinic):
        if not (clinic.forward_target and clinic.published_number):
            raise services.ClinicInputError(
                "There is no forwarding to simulate: choose a path that forwards the published line and provision a number first."
            )
        result = simulated_traffic.forwarded_call_simulate(
            twilio_number=clinic.forward_target, published_number=clinic.published_number
        )
        yield (
            messages.INFO,
            f"a call to {phone_format_national(clinic.published_number)} was forwarded to "
            f"{phone_format_national(clinic.forward_target)}.",
        )
        for worked, sentence in result.steps:
            yield (messages.SUCCESS if worked else messages.WARNING), sentence

    return _run(modeladmin, request, clinic_id, act)


def sandbox_buttons(request: HttpRequest, clinic: Clinic, port: NumberPortIn | None) -> dict[str, object]:
    """The sandbox buttons the clinic page offers this user now (none outside the sandbox)."""
    if not settings.TWILIO_SANDBOX or not request.user.has_perm(KEEP_NUMBER_PERMISSION):
        return {"sandbox_port_moves": [], "sandbox_hosted_move": "", "sandbox_forwarded_call": False}
    order = HostedOrder.objects.filter(clinic=clinic).first() if clinic.onboarding_path == OnboardingPath.TEXT_ENABLE else None
    return {
        "sandbox_port_moves": sandbox_moves.port_moves_offered(port),
        "sandbox_hosted_move": sandbox_moves.HOSTED_MOVE_LABEL if sandbox_moves.hosted_move_offered(order) else "",
        "sandbox_forwarded_call": bool(clinic.forward_target and clinic.published_number),
    }
