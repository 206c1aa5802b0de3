"""The clinic page's port-in: the portability check and the request form, the request's
standing (signing link, statuses, a rejection as what to fix), Cancel, Check now, and the
release of the temporary number kept after the port. Starting and cancelling a port commit
the clinic legally: they need clinics.keep_existing_number (Onboarding staff)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from dentsignal.admin_tools import request_actor
from telephony import twilio
from telephony.numbers import porting_in

from .. import services
from ..forms import PortInForm
from ..models import Clinic
from ..models_porting import NumberPortIn, PortInState
from ..phone import phone_format_national
from ..selectors import clinic_port_in_current
from .pages import KEEP_NUMBER_PERMISSION, clinic_for, clinic_page

# The form's fields that make the losing carrier's record (the rest: PIN, bill, date).
CARRIER_FIELDS = (
    "customer_name",
    "account_number",
    "authorized_representative",
    "authorized_representative_email",
    "street",
    "street_2",
    "city",
    "state",
    "zip",
)


def _clinic(request: HttpRequest, clinic_id: int, permission: str = KEEP_NUMBER_PERMISSION) -> Clinic:
    return clinic_for(request, clinic_id, permission)


def port_in_view(modeladmin: admin.ModelAdmin, request: HttpRequest, clinic_id: int) -> HttpResponse:
    """The portability check of the published number, then the form that asks for the port
    (or, once asked, back to the clinic page, where the port's standing is)."""
    clinic = _clinic(request, clinic_id)
    current = clinic_port_in_current(clinic=clinic)
    if current is not None and current.is_open and current.state != PortInState.ACTION_REQUIRED:
        modeladmin.message_user(
            request, f"{clinic.name}: a port of the number is under way; its standing is below.", messages.INFO
        )
        return redirect("admin:clinics_clinic_change", clinic.pk)
    refused, check = "", None
    try:
        check = porting_in.port_in_portability(clinic_id=clinic.id)
    except (twilio.TwilioError, services.ClinicNumberError) as exc:
        refused = str(exc)
    if check is not None and not check.portable:
        refused = twilio.not_portable_sentence(check.not_portable_reason_code, check.not_portable_reason)
    initial = {"target_date": porting_in.earliest_target_date(), **(current.losing_carrier if current else {})}
    form = PortInForm(request.POST or None, request.FILES or None, initial=initial)
    if request.method == "POST" and check is not None and check.portable and form.is_valid():
        data, bill = form.cleaned_data, form.cleaned_data["utility_bill"]
        try:
            porting_in.port_in_submit(
                clinic_id=clinic.id,
                form=porting_in.PortInForm(
                    carrier=twilio.LosingCarrierInfo(**{k: data[k] for k in CARRIER_FIELDS}),
                    target_date=data["target_date"],
                    pin=data["pin"],
                    bill_name=bill.name,
                    bill_content=bill.read(),
                    bill_content_type=bill.content_type or "application/octet-stream",
                ),
                actor=request_actor(request),
            )
        except (porting_in.PortInRefused, twilio.TwilioError, services.ClinicNumberError) as exc:
            refused = str(exc)
        else:
            modeladmin.message_user(
                request,
                f"{clinic.name}: the port of {phone_format_national(clinic.published_number)} was asked of Twilio. "
                "Twilio e-mails the authorization to sign; its link is also on this page.",
            )
            return redirect("admin:clinics_clinic_change", clinic.pk)
    return clinic_page(
        modeladmin,
        request,
        "port_in.html",
        title=f"Port {phone_format_national(clinic.published_number)} in for {clinic.name}",
        clinic=clinic,
        published=phone_format_national(clinic.published_number),
        form=form,
        check=check,
        refused=refused,
        rejection=rejection_sentence(current) if current and current.state == PortInState.ACTION_REQUIRED else "",
    )


def _port_action(modeladmin: admin.ModelAdmin, request: HttpRequest, clinic_id: int, permission: str, act) -> HttpResponse:
    clinic = _clinic(request, clinic_id, permission)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    port = clinic_port_in_current(clinic=clinic)
    try:
        if port is None:
            raise services.ClinicInputError("There is no port-in request for this clinic.")
        said = act(port, request_actor(request))
    except (twilio.TwilioError, services.ClinicNumberError) as exc:
        modeladmin.message_user(request, f"{clinic.name}: {exc}", messages.ERROR)
    else:
        modeladmin.message_user(request, f"{clinic.name}: {said}")
    return redirect("admin:clinics_clinic_change", clinic.pk)


def port_in_cancel_view(modeladmin: admin.ModelAdmin, request: HttpRequest, clinic_id: int) -> HttpResponse:
    """Cancel the port at Twilio (while Twilio allows it)."""

    def cancel(port: NumberPortIn, actor) -> str:
        porting_in.port_in_cancel(port_in_id=port.id, actor=actor)
        return f"the port of {phone_format_national(port.phone_number)} was cancelled."

    return _port_action(modeladmin, request, clinic_id, KEEP_NUMBER_PERMISSION, cancel)


def port_in_refresh_view(modeladmin: admin.ModelAdmin, request: HttpRequest, clinic_id: int) -> HttpResponse:
    """Ask Twilio now where the port stands (the periodic check does it every 10 minutes)."""

    def refresh(port: NumberPortIn, actor) -> str:
        port = porting_in.port_in_refresh(port_in_id=port.id)
        return f"the port of {phone_format_national(port.phone_number)}: {port.get_state_display().lower()}."

    return _port_action(modeladmin, request, clinic_id, "clinics.change_clinic", refresh)


def port_in_release_temporary_view(modeladmin: admin.ModelAdmin, request: HttpRequest, clinic_id: int) -> HttpResponse:
    """Staff say the temporary number kept after the port may go: release it."""

    def release(port: NumberPortIn, actor) -> str:
        return porting_in.port_in_temporary_release(port_in_id=port.id, actor=actor)

    return _port_action(modeladmin, request, clinic_id, "clinics.release_number", release)


def rejection_sentence(port: NumberPortIn) -> str:
    """The carrier's rejection as what to fix."""
    return twilio.port_rejection_sentence(port.rejection_reason_code, port.rejection_reason)


def port_in_html(clinic: Clinic) -> str:
    """The port's standing on the clinic page: status of the request and of the number, the
    signing link, a rejection as what to fix, the target date, the temporary number kept."""
    published = phone_format_national(clinic.published_number)
    port = clinic_port_in_current(clinic=clinic)
    head = format_html(
        "<p id='onboarding-path'><strong>Port the number in</strong>: {} moves to Twilio and becomes the clinic's number; "
        "until then the clinic's temporary number, if it has one, keeps working.</p>",
        published,
    )
    if port is None:
        return head + mark_safe("<p id='port-in-status'>No port-in request yet: press Port the number in… above.</p>")
    parts = [
        format_html(
            "<p id='port-in-status'>Request: <strong>{}</strong> · the number: {} · target date {}</p>",
            port.get_state_display(),
            (port.number_status or "not reported").replace("_", " "),
            f"{port.target_date:%B %-d, %Y}",
        )
    ]
    if port.state == PortInState.WAITING_FOR_SIGNATURE and port.signature_request_url:
        parts.append(
            format_html(
                "<p>Send this link to {} to sign the letter of authorization: <a id='port-in-signature' href='{}' "
                "rel='noopener noreferrer' target='_blank'>{}</a></p>",
                port.losing_carrier.get("authorized_representative") or "the authorized person",
                port.signature_request_url,
                port.signature_request_url,
            )
        )
    if port.state == PortInState.ACTION_REQUIRED and port.rejection_reason:
        parts.append(format_html("<p id='port-in-rejection' class='errornote'>{}</p>", rejection_sentence(port)))
    if port.error:
        parts.append(format_html("<p class='errornote'>{}</p>", port.error))
    if port.temporary_number:
        parts.append(
            format_html(
                "<p id='port-in-temporary'>The temporary number {} is kept (not released) until you say so "
                "with Release the temporary number (button above).</p>",
                phone_format_national(port.temporary_number),
            )
        )
    return head + format_html("".join(["{}"] * len(parts)), *parts)
