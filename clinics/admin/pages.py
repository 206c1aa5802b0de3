"""The pages that a list action and a clinic page button share: Provision number (search,
confirm, buy) and the confirmation before a release.

`action` names the list action that shows the page (its form then posts back to the
list with the selection), or is "" on the clinic page's own URL.
"""

from collections.abc import Sequence

from django.contrib import admin
from django.contrib.admin import helpers
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse

from dentsignal.admin_tools import permission_require, request_actor
from telephony.numbers import buying, release
from telephony.numbers import search as number_search

from .. import selectors as clinic_selectors
from ..forms import ProvisionNumberForm
from ..models import Clinic
from ..phone import phone_format_national
from .outcomes import outcome_report, request_each, skipped_report

# A port-in request and a hosted SMS order are signed for the clinic and commit it legally
# (clinics.Clinic's permission keep_existing_number, held by Onboarding staff).
KEEP_NUMBER_PERMISSION = "clinics.keep_existing_number"


def clinic_page(
    modeladmin: admin.ModelAdmin, request: HttpRequest, template: str, *, title: str, clinic: Clinic, **context: object
) -> TemplateResponse:
    """A page of one clinic's button (a form or a confirmation) in the admin's frame."""
    return TemplateResponse(
        request,
        f"admin/clinics/clinic/{template}",
        {
            **modeladmin.admin_site.each_context(request),
            "title": title,
            "clinic": clinic,
            "opts": modeladmin.model._meta,
            **context,
        },
    )


def clinic_for(request: HttpRequest, clinic_id: int, permission: str) -> Clinic:
    """The clinic a custom view acts on, once the user is known to hold `permission`."""
    # The permission first: a user without it learns nothing, not even which ids exist.
    permission_require(request, permission)
    clinic = Clinic.objects.filter(pk=clinic_id).first()
    if clinic is None:
        raise Http404("No such clinic.")
    return clinic


def provision_page(
    modeladmin: admin.ModelAdmin, request: HttpRequest, clinics: list[Clinic], *, action: str = ""
) -> HttpResponse | None:
    """Search numbers for sale (with the monthly price), confirm one, then buy ('apply').

    Nothing is changed before the Buy on the confirm page; when nothing is for sale
    the page says so, offers no Buy, and the clinics stay as they were.
    """
    step = next((name for name in ("apply", "confirm", "search") if name in request.POST), "")
    single = len(clinics) == 1
    form = ProvisionNumberForm(request.POST if step else None, buying=step in ("apply", "confirm"), several=not single)
    context: dict = {"step": step}
    if step and form.is_valid():
        # A picked number only makes sense for one clinic.
        number = form.cleaned_data["phone_number"] if single else ""
        area_code = form.cleaned_data["area_code"]
        try:
            if step == "search":
                search = number_search.NumberSearch(**form.search_criteria())
                context["for_sale"] = number_search.numbers_for_sale(search)
            elif step == "confirm":
                context.update(
                    confirm_number=number,
                    confirm_number_national=phone_format_national(number),
                    confirm_area_code=area_code,
                    price=number_search.local_number_price(),
                )
            else:
                return _provision_buy(modeladmin, request, clinics, form=form, number=number)
        except number_search.NothingForSale as exc:
            context["nothing_for_sale"] = str(exc)
        except number_search.TwilioError as exc:
            context["twilio_error"], context["retryable"] = str(exc), exc.retryable
    return TemplateResponse(
        request,
        "admin/clinics/clinic/provision_number.html",
        {
            **modeladmin.admin_site.each_context(request),
            **context,
            "title": "Confirm the number to buy" if "confirm_area_code" in context else "Find a number to buy",
            "clinics": clinics,
            "single": single,
            "form": form,
            "opts": modeladmin.model._meta,
            "action": action,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        },
    )


def _provision_buy(
    modeladmin: admin.ModelAdmin, request: HttpRequest, clinics: list[Clinic], *, form: ProvisionNumberForm, number: str
) -> HttpResponse | None:
    """Request each purchase through the workflow (which first checks something is for sale,
    else NothingForSale and nothing changed) and report each clinic."""
    requested = buying.number_buy_request(
        clinic_ids=[clinic.id for clinic in clinics],
        area_code=form.cleaned_data["area_code"],
        friendly_name=form.cleaned_data["friendly_name"],
        phone_number=number,
        actor=request_actor(request),
    )
    for outcome in requested:
        if outcome.refused is not None:
            skipped_report(modeladmin, request, outcome.refused)
        else:
            outcome_report(modeladmin, request, outcome.clinic_id, started="Provisioning started")
    if len(clinics) == 1:
        return redirect("admin:clinics_clinic_change", clinics[0].pk)
    return None


def release_page(
    modeladmin: admin.ModelAdmin, request: HttpRequest, clinics: Sequence[Clinic], *, action: str = ""
) -> HttpResponse:
    """The confirmation before releasing the numbers of `clinics` (those that hold one)."""
    return TemplateResponse(
        request,
        "admin/clinics/clinic/release_number.html",
        {
            **modeladmin.admin_site.each_context(request),
            "title": "Release numbers" if action else "Release number",
            "clinics": clinics,
            "with_number": [clinic for clinic in clinics if clinic.twilio_number_sid],
            "texting_senders": clinic_selectors.clinic_ids_texting_from_their_number(clinics=clinics),
            "opts": modeladmin.model._meta,
            "action": action,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        },
    )


def release_request_each(modeladmin: admin.ModelAdmin, request: HttpRequest, clinics: Sequence[Clinic]) -> None:
    """Request the release of each clinic's number (confirmed on the page above) and report each."""
    request_each(
        modeladmin,
        request,
        clinics,
        lambda clinic: release.clinic_number_release_request(clinic_id=clinic.id, actor=request_actor(request)),
        started="Release started",
    )
