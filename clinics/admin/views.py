"""The clinic page's buttons: custom admin URLs under /admin/clinics/clinic/<id>/.

Each view first requires its permission (a user without it learns nothing, not even which
ids exist), then acts through a workflow or service and goes back to the clinic's page
with a message. `clinic_urls` binds them to the ClinicAdmin (ClinicAdmin.get_urls).
"""

import functools
from collections.abc import Callable

from django.conf import settings
from django.contrib import admin, messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.urls import URLPattern, path

from dentsignal.admin_tools import request_actor
from telephony import twilio as twilio_client
from telephony.numbers import hosted, simulated_traffic, subaccounts, usage

from .. import services
from ..forms import OnboardingPathForm, UntickStepForm
from ..models import STATE_STEPS, HostedOrder, OnboardingPath, OnboardingStep, step_dependents, step_state_sentence
from ..phone import phone_format_national
from . import patient_data, port_in, sandbox_moves
from .actions import subaccount_status_each
from .outcomes import listing_tick
from .pages import KEEP_NUMBER_PERMISSION, clinic_page, provision_page, release_page, release_request_each
from .pages import clinic_for as _clinic_for


def clinic_urls(modeladmin: admin.ModelAdmin) -> list[URLPattern]:
    """The URLs of the clinic page's buttons, each an admin view (staff login, CSRF) of `modeladmin`."""

    def view(function: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        return modeladmin.admin_site.admin_view(functools.partial(function, modeladmin))

    return [
        path("<int:clinic_id>/provision/", view(provision_view), name="clinics_clinic_provision"),
        path("<int:clinic_id>/release/", view(release_view), name="clinics_clinic_release"),
        path("<int:clinic_id>/listing-done/", view(listing_done_view), name="clinics_clinic_listing_done"),
        path("<int:clinic_id>/hipaa-confirmed/", view(hipaa_confirm_view), name="clinics_clinic_hipaa_confirm"),
        path("<int:clinic_id>/onboarding-path/", view(onboarding_path_view), name="clinics_clinic_onboarding_path"),
        path("<int:clinic_id>/forwarding-works/", view(forwarding_confirm_view), name="clinics_clinic_forwarding_confirm"),
        path("<int:clinic_id>/text-enable/", view(text_enable_view), name="clinics_clinic_text_enable"),
        path("<int:clinic_id>/text-enable/check/", view(text_enable_check_view), name="clinics_clinic_text_enable_check"),
        path("<int:clinic_id>/text-enable/cancel/", view(text_enable_cancel_view), name="clinics_clinic_text_enable_cancel"),
        path("<int:clinic_id>/port-in/", view(port_in.port_in_view), name="clinics_clinic_port_in"),
        path("<int:clinic_id>/port-in/cancel/", view(port_in.port_in_cancel_view), name="clinics_clinic_port_in_cancel"),
        path("<int:clinic_id>/port-in/refresh/", view(port_in.port_in_refresh_view), name="clinics_clinic_port_in_refresh"),
        path(
            "<int:clinic_id>/port-in/release-temporary/",
            view(port_in.port_in_release_temporary_view),
            name="clinics_clinic_port_in_release_temporary",
        ),
        path("<int:clinic_id>/simulate-test-traffic/", view(simulate_view), name="clinics_clinic_simulate"),
        path(
            "<int:clinic_id>/sandbox/port-in/<str:move>/",
            view(sandbox_moves.port_move_view),
            name="clinics_clinic_sandbox_port_move",
        ),
        path(
            "<int:clinic_id>/sandbox/texting-order/",
            view(sandbox_moves.hosted_move_view),
            name="clinics_clinic_sandbox_hosted_move",
        ),
        path(
            "<int:clinic_id>/sandbox/forwarded-call/",
            view(sandbox_moves.forwarded_call_view),
            name="clinics_clinic_sandbox_forwarded_call",
        ),
        path("<int:clinic_id>/checklist/<str:step>/untick/", view(untick_view), name="clinics_clinic_untick"),
        path("<int:clinic_id>/usage-refresh/", view(usage_refresh_view), name="clinics_clinic_usage_refresh"),
        path("<int:clinic_id>/close-subaccount/", view(close_subaccount_view), name="clinics_clinic_close_subaccount"),
        path(
            "<int:clinic_id>/patient-data/",
            view(patient_data.patient_data_export_view),
            name="clinics_clinic_patient_data_export",
        ),
    ]


def provision_view(modeladmin: admin.ModelAdmin, request: HttpRequest, clinic_id: int) -> HttpResponse:
    clinic = _clinic_for(request, clinic_id, "clinics.provision_number")
    # One clinic: the page, or the redirect to its change page after the request.
    return provision_page(modeladmin, request, [clinic]) or redirect("admin:clinics_clinic_change", clinic.pk)


def release_view(modeladmin: admin.ModelAdmin, request: HttpRequest, clinic_id: int) -> HttpResponse:
    clinic = _clinic_for(request, clinic_id, "clinics.release_number")
    if request.method == "POST":
        release_request_each(modeladmin, request, [clinic])
        return redirect("admin:clinics_clinic_change", clinic.pk)
    return release_page(modeladmin, request, [clinic])


def listing_done_view(modeladmin: admin.ModelAdmin, request: HttpRequest, clinic_id: int) -> HttpResponse:
    # Ticking a checklist step changes the clinic's record and costs nothing: "change".
    clinic = _clinic_for(request, clinic_id, "clinics.change_clinic")
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    listing_tick(modeladmin, request, clinic)
    return redirect("admin:clinics_clinic_change", clinic.pk)


def hipaa_confirm_view(modeladmin: admin.ModelAdmin, request: HttpRequest, clinic_id: int) -> HttpResponse:
    """A staff member confirms, from Twilio's Console, that the clinic's Twilio account is HIPAA-enabled
    (BAA, HIPAA flag): the step is ticked as their confirmation, with who and when on the checklist."""
    clinic = _clinic_for(request, clinic_id, "clinics.change_clinic")
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    try:
        ticked = services.clinic_checklist_tick(
            clinic_id=clinic.id, step=OnboardingStep.HIPAA_CONFIRMED, actor=request_actor(request)
        )
    except services.ClinicInputError as exc:
        modeladmin.message_user(request, f"{clinic.name}: {exc}", messages.ERROR)
    else:
        done = "recorded as confirmed by you" if ticked else "was already confirmed"
        modeladmin.message_user(
            request, f"{clinic.name}: the HIPAA account {done}.", messages.SUCCESS if ticked else messages.INFO
        )
    return redirect("admin:clinics_clinic_change", clinic.pk)


def onboarding_path_view(modeladmin: admin.ModelAdmin, request: HttpRequest, clinic_id: int) -> HttpResponse:
    """Choose the clinic's onboarding path (and the published number to forward): a form;
    a refused choice (not available yet, bad number, past the point of no return) is said
    on it, and nothing changes."""
    # New number and forward commit the clinic to nothing at a carrier: "change" on the clinic.
    clinic = _clinic_for(request, clinic_id, "clinics.change_clinic")
    initial = {"path": clinic.onboarding_path, "published_number": phone_format_national(clinic.published_number)}
    form = OnboardingPathForm(request.POST if request.method == "POST" else None, initial=initial)
    refused = ""
    if request.method == "POST" and form.is_valid():
        try:
            saved = services.clinic_onboarding_path_set(
                clinic_id=clinic.id,
                path=form.cleaned_data["path"],
                published_number=form.cleaned_data["published_number"],
                actor=request_actor(request),
            )
        except services.ClinicInputError as exc:
            refused = str(exc)
        else:
            modeladmin.message_user(request, f"{clinic.name}: onboarding path is {OnboardingPath(saved.onboarding_path).label}.")
            if saved.onboarding_path == OnboardingPath.PORT_IN and request.user.has_perm(KEEP_NUMBER_PERMISSION):
                return redirect("admin:clinics_clinic_port_in", clinic.pk)  # the portability check, then the form
            return redirect("admin:clinics_clinic_change", clinic.pk)
    return clinic_page(
        modeladmin,
        request,
        "onboarding_path.html",
        title=f"Onboarding path of {clinic.name}",
        clinic=clinic,
        form=form,
        refused=refused,
    )


def forwarding_confirm_view(modeladmin: admin.ModelAdmin, request: HttpRequest, clinic_id: int) -> HttpResponse:
    """A staff member confirms that calls to the published number reach the agent: the
    forward step is ticked as their confirmation (who and when shown on the checklist)."""
    clinic = _clinic_for(request, clinic_id, "clinics.change_clinic")
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    try:
        ticked = services.clinic_forwarding_confirm(clinic_id=clinic.id, actor=request_actor(request))
    except services.ClinicInputError as exc:
        modeladmin.message_user(request, f"{clinic.name}: {exc}", messages.ERROR)
        return redirect("admin:clinics_clinic_change", clinic.pk)
    if ticked:
        modeladmin.message_user(request, f"{clinic.name}: forwarding recorded as confirmed by you.")
    else:
        modeladmin.message_user(request, f"{clinic.name}: the forwarding step was already done.", messages.INFO)
    return redirect("admin:clinics_clinic_change", clinic.pk)


def text_enable_view(modeladmin: admin.ModelAdmin, request: HttpRequest, clinic_id: int) -> HttpResponse:
    """Start text-enabling the clinic's published number (hosted SMS): the eligibility check,
    then the order, placed once (a second click finds the first)."""
    clinic = _clinic_for(request, clinic_id, KEEP_NUMBER_PERMISSION)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    try:
        order = hosted.hosted_order_start(clinic_id=clinic.id, actor=request_actor(request))
    except services.ClinicInputError as exc:
        modeladmin.message_user(request, f"{clinic.name}: {exc}", messages.ERROR)
    else:
        modeladmin.message_user(
            request, f"{clinic.name}: texting for the published number is ordered; the order is {order.status_words}."
        )
    return redirect("admin:clinics_clinic_change", clinic.pk)


def text_enable_check_view(modeladmin: admin.ModelAdmin, request: HttpRequest, clinic_id: int) -> HttpResponse:
    """Ask Twilio for the hosted SMS order's status now, instead of waiting for beat's poll."""
    clinic = _clinic_for(request, clinic_id, "clinics.change_clinic")
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    try:
        order = hosted.hosted_order_poll(clinic_id=clinic.id)
    except HostedOrder.DoesNotExist:
        modeladmin.message_user(request, f"{clinic.name}: no texting order yet.", messages.ERROR)
    except twilio_client.TwilioError as exc:
        modeladmin.message_user(request, f"{clinic.name}: {exc}", messages.ERROR)
    else:
        modeladmin.message_user(request, f"{clinic.name}: the texting order is {order.status_words}.", messages.INFO)
    return redirect("admin:clinics_clinic_change", clinic.pk)


def text_enable_cancel_view(modeladmin: admin.ModelAdmin, request: HttpRequest, clinic_id: int) -> HttpResponse:
    """Cancel the clinic's texting order at Twilio while Twilio allows it: a confirmation
    page, then the cancellation (Onboarding staff: the order committed the clinic)."""
    clinic = _clinic_for(request, clinic_id, KEEP_NUMBER_PERMISSION)
    order = HostedOrder.objects.filter(clinic=clinic).first()
    if request.method == "POST" and request.POST.get("apply"):
        try:
            said = hosted.hosted_order_cancel(clinic_id=clinic.id, actor=request_actor(request))
        except services.ClinicInputError as exc:
            modeladmin.message_user(request, f"{clinic.name}: {exc}", messages.ERROR)
        else:
            modeladmin.message_user(request, f"{clinic.name}: {said}")
        return redirect("admin:clinics_clinic_change", clinic.pk)
    return clinic_page(
        modeladmin,
        request,
        "text_enable_cancel.html",
        title=f"Cancel the texting order of {clinic.name}",
        clinic=clinic,
        order=order,
        cancellable=hosted.hosted_order_cancellable(order),
        published=phone_format_national(order.phone_number if order else clinic.published_number),
    )


def simulate_view(modeladmin: admin.ModelAdmin, request: HttpRequest, clinic_id: int) -> HttpResponse:
    """Sandbox only: a signed test call and SMS through our own webhooks, reported."""
    clinic = _clinic_for(request, clinic_id, "clinics.simulate_test_traffic")
    if not settings.TWILIO_SANDBOX:
        raise Http404("Simulated test traffic exists only with the sandbox Twilio.")
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    if not clinic.twilio_number:
        modeladmin.message_user(request, f"{clinic.name} has no number to call yet: provision one first.", messages.ERROR)
        return redirect("admin:clinics_clinic_change", clinic.pk)
    result = simulated_traffic.traffic_simulate(twilio_number=clinic.twilio_number)
    for worked, sentence in result.steps:
        # Green only for what worked: a call the agent did not answer is not a success.
        modeladmin.message_user(request, sentence, messages.SUCCESS if worked else messages.WARNING)
    return redirect("admin:clinics_clinic_change", clinic.pk)


def usage_refresh_view(modeladmin: admin.ModelAdmin, request: HttpRequest, clinic_id: int) -> HttpResponse:
    """Fetch this month's usage now (a task; with eager Celery it has run on return)."""
    # Reading usage changes nothing at Twilio and costs nothing: "change" on the clinic.
    clinic = _clinic_for(request, clinic_id, "clinics.change_clinic")
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    if usage.clinic_usage_refresh_request(clinic_id=clinic.id):
        modeladmin.message_user(request, f"{clinic.name}: usage refresh started; the figures show when fetched.")
    else:
        modeladmin.message_user(
            request, f"{clinic.name} has no Twilio subaccount of its own: no usage to fetch.", messages.WARNING
        )
    return redirect("admin:clinics_clinic_change", clinic.pk)


def close_subaccount_view(modeladmin: admin.ModelAdmin, request: HttpRequest, clinic_id: int) -> HttpResponse:
    """Close the clinic's Twilio subaccount: irreversible, so a page first says what closing
    does (or why it is refused now), and only its "Yes, close for good" (a POST) closes."""
    clinic = _clinic_for(request, clinic_id, "clinics.close_subaccount")
    if request.method == "POST" and "apply" in request.POST:
        subaccount_status_each(modeladmin, request, [clinic], status="closed")
        return redirect("admin:clinics_clinic_change", clinic.pk)
    try:
        blocker = subaccounts.clinic_subaccount_close_blocker(clinic=clinic)
    except twilio_client.TwilioError as exc:
        blocker = str(exc)
    return clinic_page(
        modeladmin,
        request,
        "close_subaccount.html",
        title=f"Close the Twilio subaccount of {clinic.name}?",
        clinic=clinic,
        closable=[] if blocker else [clinic],
        refused=[(clinic, blocker)] if blocker else [],
    )


def untick_view(modeladmin: admin.ModelAdmin, request: HttpRequest, clinic_id: int, step: str) -> HttpResponse:
    """A small form: the reason for unticking a step a person checked, naming the steps
    that depend on it and go with it; each untick is a history event. A step that follows
    the number's or the registration's state is refused with why."""
    clinic = _clinic_for(request, clinic_id, "clinics.untick_checklist_step")
    if step not in OnboardingStep.values:
        raise Http404("No such checklist step.")
    label = OnboardingStep(step).label
    if step in STATE_STEPS:
        modeladmin.message_user(request, f"{clinic.name}: {step_state_sentence(step)}", messages.ERROR)
        return redirect("admin:clinics_clinic_change", clinic.pk)
    form = UntickStepForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        unticked = services.clinic_checklist_untick(
            clinic_id=clinic.id, step=step, actor=request_actor(request), reason=form.cleaned_data["reason"]
        )
        if unticked:
            also = [OnboardingStep(value).label for value in unticked[1:]]
            with_them = f", with the step(s) that depend on it: {', '.join(also)}" if also else ""
            modeladmin.message_user(
                request, f"{clinic.name}: “{label}” unticked{with_them}; the reason is in the history.", messages.SUCCESS
            )
        else:
            modeladmin.message_user(request, f"{clinic.name}: “{label}” was not ticked; nothing changed.", messages.INFO)
        return redirect("admin:clinics_clinic_change", clinic.pk)
    ticked = set(clinic.checklist_items.values_list("step", flat=True))
    return clinic_page(
        modeladmin,
        request,
        "untick_step.html",
        title=f"Untick “{label}”",
        clinic=clinic,
        step_label=label,
        dependents=[OnboardingStep(value).label for value in step_dependents(step) if value in ticked],
        form=form,
    )
