"""The clinic list's actions, one small function each (Django's `@admin.action`).

Each declares the permission it needs (ClinicAdmin answers `has_<name>_permission`), hands
the work to a workflow (telephony.numbers), and reports every clinic's outcome with
`message_user`. Intermediate pages are ordinary forms (pages.py, templates/admin/clinics/clinic/).
"""

from collections.abc import Iterable

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from dentsignal.admin_tools import request_actor
from telephony import twilio as twilio_client
from telephony.numbers import provisioning, repairs, subaccounts
from telephony.numbers import search as number_search
from telephony.queue import QUEUED_FOR_RESEND

from .. import services
from ..models import Clinic, NumberState
from .outcomes import listing_tick, request_each, skipped_report
from .pages import provision_page, release_page, release_request_each


@admin.action(description="Provision number", permissions=["provision_number"])
def provision_number(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Clinic]) -> HttpResponse | None:
    return provision_page(modeladmin, request, list(queryset), action="provision_number")


@admin.action(description="Retry failed provisioning (same area code)", permissions=["provision_number"])
def retry_provisioning(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Clinic]) -> None:
    failed = []
    for clinic in queryset:
        if clinic.number_state != NumberState.FAILED or clinic.twilio_number or not clinic.requested_area_code:
            modeladmin.message_user(
                request, f"Skipped {clinic.name}: only a failed provisioning can be retried.", messages.WARNING
            )
        elif not number_search.provision_retry_helps(clinic.number_error_code):
            modeladmin.message_user(
                request,
                f"Skipped {clinic.name}: retrying cannot help ({clinic.number_error}) Use Provision number to search "
                "another area code, city or ZIP.",
                messages.WARNING,
            )
        else:
            failed.append(clinic)
    request_each(
        modeladmin,
        request,
        failed,
        lambda clinic: provisioning.clinic_number_provision_request(
            clinic_id=clinic.id,
            area_code=clinic.requested_area_code,
            friendly_name=clinic.requested_friendly_name,
            actor=request_actor(request),
        ),
        started="Provisioning retried",
    )


@admin.action(description="Release number", permissions=["release_number"])
def release_number(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Clinic]) -> HttpResponse | None:
    if "apply" in request.POST:
        release_request_each(modeladmin, request, list(queryset))
        return None
    return release_page(modeladmin, request, list(queryset), action="release_number")


@admin.action(description="Update webhooks", permissions=["update_number_webhooks"])
def update_webhooks(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Clinic]) -> None:
    for clinic in queryset:
        if not clinic.twilio_number_sid or clinic.number_state != NumberState.ACTIVE:
            modeladmin.message_user(request, f"Skipped {clinic.name}: it has no active number.", messages.WARNING)
            continue
        (operation,) = repairs.number_webhooks_update_request(phone_sids=[clinic.twilio_number_sid], actor=request_actor(request))
        what = f"{clinic.name} ({clinic.twilio_number})"
        if operation.send_failed_at:
            modeladmin.message_user(request, f"Webhook update for {what} is saved, but {QUEUED_FOR_RESEND}.", messages.WARNING)
        else:
            modeladmin.message_user(request, f"Webhook update started for {what}.")


@admin.action(description="Mark Google/website listing updated", permissions=["change"])
def mark_listing_updated(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Clinic]) -> None:
    for clinic in queryset:
        listing_tick(modeladmin, request, clinic)


# ---------------------------------------------------------------------- subaccount status
# Suspend / reactivate the clinic's Twilio subaccount (telephony.numbers.subaccounts).
# Closing is irreversible: it is not a list action but a button on the clinic page, behind
# a confirmation page (views.close_subaccount_view), for one clinic at a time.


@admin.action(description="Suspend Twilio subaccount (reversible)", permissions=["suspend_subaccount"])
def suspend_subaccount(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Clinic]) -> None:
    subaccount_status_each(modeladmin, request, queryset, status="suspended")


@admin.action(description="Reactivate Twilio subaccount", permissions=["suspend_subaccount"])
def reactivate_subaccount(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Clinic]) -> None:
    subaccount_status_each(modeladmin, request, queryset, status="active")


def subaccount_status_each(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: Iterable[Clinic], *, status: str
) -> None:
    """Set each clinic's subaccount to `status`; report each outcome or refusal as a sentence."""
    done = {"suspended": "suspended", "active": "reactivated", "closed": "closed"}[status]
    for clinic in queryset:
        try:
            updated = subaccounts.clinic_subaccount_status_change(
                clinic_id=clinic.id, status=status, actor=request_actor(request)
            )
        except (subaccounts.SubaccountRefused, services.ClinicNumberError, twilio_client.TwilioError) as exc:
            modeladmin.message_user(request, f"{clinic.name}: {exc}", messages.ERROR)
            continue
        modeladmin.message_user(request, f"{updated.name}: its Twilio subaccount is {done}.", messages.SUCCESS)


@admin.action(description="Move to its own subaccount", permissions=["move_to_subaccount"])
def move_to_subaccount(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Clinic]) -> None:
    for clinic in queryset:
        try:
            operation = subaccounts.clinic_number_move_request(clinic_id=clinic.id, actor=request_actor(request))
        except (services.ClinicNumberError, provisioning.InvalidInput) as exc:
            skipped_report(modeladmin, request, exc)
            continue
        moved = Clinic.objects.get(pk=clinic.id)  # with eager Celery the task has already run
        if operation.send_failed_at:
            modeladmin.message_user(request, f"{moved.name}: the move is saved, but {QUEUED_FOR_RESEND}.", messages.WARNING)
        elif moved.number_move_step == services.MOVE_DONE:
            modeladmin.message_user(
                request, f"{moved.name}: {moved.twilio_number} is now in the clinic's own Twilio subaccount.", messages.SUCCESS
            )
        elif moved.number_move_step == services.MOVE_FAILED:
            modeladmin.message_user(request, f"{moved.name}: {moved.number_move_error}", messages.ERROR)
        else:
            modeladmin.message_user(request, f"{moved.name}: move started; refresh to see the result.")
