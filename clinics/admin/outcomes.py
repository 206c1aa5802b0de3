"""Asking for a change clinic by clinic, and telling staff each outcome in a sentence.

The list's actions and the clinic page's buttons ask the same workflows, so they report
through these functions and say the same things.
"""

import re
from collections.abc import Callable, Iterable

from django.contrib import admin, messages
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from dentsignal.admin_tools import request_actor
from telephony.queue import QUEUED_FOR_RESEND

from .. import services
from ..models import Clinic, NumberState, OnboardingStep

# Twilio's pages in a sentence (its error pages, the Console, Support), up to the closing
# bracket or the sentence's full stop.
_TWILIO_LINK = re.compile(r"https://(?:www\.)?twilio\.com/[^\s)]*[^\s).,;]")


def sentence_html(sentence: str) -> SafeString:
    """A staff sentence as HTML: escaped, each Twilio link clickable (opening beside the admin)."""
    pieces, last = [], 0
    for match in _TWILIO_LINK.finditer(sentence):
        link = format_html('<a href="{0}" target="_blank" rel="noopener">{0}</a>', match.group())
        pieces.append((sentence[last : match.start()], link))
        last = match.end()
    return format_html("{}{}", format_html_join("", "{}{}", pieces), sentence[last:])


def request_each(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    clinics: Iterable[Clinic],
    service: Callable[[Clinic], object],
    *,
    started: str,
) -> None:
    """Call a request service per clinic; report each outcome, or why it was skipped."""
    for clinic in clinics:
        try:
            service(clinic)
        except services.ClinicNumberError as exc:
            skipped_report(modeladmin, request, exc)
            continue
        outcome_report(modeladmin, request, clinic.id, started=started)


def skipped_report(modeladmin: admin.ModelAdmin, request: HttpRequest, refused: Exception) -> None:
    """Say why a clinic's request was refused (nothing changed for it)."""
    modeladmin.message_user(request, f"Skipped: {refused}", messages.WARNING)


def outcome_report(modeladmin: admin.ModelAdmin, request: HttpRequest, clinic_id: int, *, started: str) -> None:
    """Say what happened; with eager Celery the task has already run."""
    clinic = Clinic.objects.get(pk=clinic_id)
    if clinic.send_failed_at:
        modeladmin.message_user(
            request,
            f"{clinic.name}: {started.lower()} and saved, but {QUEUED_FOR_RESEND}. Refresh to see the result.",
            messages.WARNING,
        )
    elif clinic.number_state == NumberState.FAILED:
        modeladmin.message_user(request, sentence_html(f"{clinic.name}: {clinic.number_error}"), messages.ERROR)
    elif clinic.number_state == NumberState.ACTIVE:
        modeladmin.message_user(request, f"{clinic.name}: number {clinic.twilio_number} is active.", messages.SUCCESS)
    elif clinic.number_state == NumberState.RELEASED:
        modeladmin.message_user(request, f"{clinic.name}: number released.", messages.SUCCESS)
    else:
        modeladmin.message_user(request, f"{clinic.name}: {started}; refresh to see the result.")


def listing_tick(modeladmin: admin.ModelAdmin, request: HttpRequest, clinic: Clinic) -> None:
    """Tick the clinic's "listing updated" step and say so, or why it was not ticked."""
    if not clinic.twilio_number:
        modeladmin.message_user(request, f"Skipped {clinic.name}: it has no number to list yet.", messages.WARNING)
        return
    try:
        ticked = services.clinic_checklist_tick(
            clinic_id=clinic.id, step=OnboardingStep.UPDATE_LISTING, actor=request_actor(request)
        )
    except services.ClinicInputError as exc:
        modeladmin.message_user(request, f"Skipped {clinic.name}: {exc}", messages.WARNING)
        return
    if ticked:
        modeladmin.message_user(request, f"{clinic.name}: listing step ticked.", messages.SUCCESS)
    else:
        modeladmin.message_user(request, f"{clinic.name}: listing step was already done.", messages.INFO)
