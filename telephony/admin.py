"""Telephony admin: API tokens (hashes only), call and message logs, the Number audit page."""

import datetime as dt

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone

from clinics.models import Clinic
from clinics.services import ClinicNumberError
from dentsignal.admin_tools import (
    AccessLoggedAdminMixin,
    ReadOnlyAdminMixin,
    SafeSelectionMixin,
    clinic_date,
    permission_require,
    request_actor,
)
from telephony.models import ApiToken, AuditRun, CallLog, MessageLog
from telephony.numbers import audit_runs, release, repairs
from telephony.queue import QUEUED_FOR_RESEND

# A run still "running" after this long died with its worker; a new one may start.
AUDIT_STALE = dt.timedelta(minutes=15)
# The Number audit page's powers. Fixing webhooks is the same power as the clinic's
# "Update webhooks" action, so it is the same permission.
RUN_AUDIT, FIX_WEBHOOKS, ADOPT = "telephony.run_number_audit", "clinics.update_number_webhooks", "telephony.adopt_number"
# Releasing an orphan from the audit page is the same power as the clinic's Release number.
RELEASE = "clinics.release_number"


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("key_prefix", "user", "name", "created_at", "last_used_at")
    readonly_fields = ("user", "key_prefix", "created_at", "last_used_at")
    exclude = ("key_hash",)

    def has_add_permission(self, request) -> bool:
        return False


# What the reply handler did with an inbound SMS (MessageLog.action, telephony.webhooks.replies), for people.
MESSAGE_ACTION_LABELS = {
    "confirmed": "Appointment confirmed",
    "reschedule": "Asked to reschedule",
    "opt_out": "Opted out of texts",
    "opt_in": "Opted back in to texts",
    "help": "Asked for help",
    "inbox": "Free text: waiting in the inbox",
    "no_appointment": "No upcoming appointment",
    "unknown_number": "Texted a number no clinic holds",
}


class LogPagesMedia:
    """Keeps the call and message logs readable from 390 px to 1366 px wide."""

    css = {"all": ("telephony/admin-logs.css",)}


class MessageActionFilter(admin.SimpleListFilter):
    """The message log's "action" filter, with the labels people read."""

    title = "what we did"
    parameter_name = "action"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return list(MESSAGE_ACTION_LABELS.items())

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.filter(action=self.value()) if self.value() else queryset


class ClinicLogAdmin(AccessLoggedAdminMixin, admin.ModelAdmin):
    """What the call and message logs share: each row's date in its clinic's time zone, in
    the one format (clinics.dates), one blank marker, the layout stylesheet; and, as both
    show patients' data (bodies, callers' numbers), an access record for every page."""

    list_select_related = ("clinic",)
    empty_value_display = "—"
    Media = LogPagesMedia
    when = clinic_date("created_at", "When")
    last_update = clinic_date("updated_at", "Last update")


@admin.register(MessageLog)
class MessageLogAdmin(SafeSelectionMixin, ClinicLogAdmin):
    """Every SMS; filter "needs reading" per clinic for the staff inbox."""

    list_display = ("when", "clinic", "direction", "from_number", "body_short", "action_label", "status", "needs_reading")
    list_filter = ("needs_reading", "direction", MessageActionFilter, "clinic")

    @admin.display(description="What we did", ordering="action")
    def action_label(self, message: MessageLog) -> str:
        return MESSAGE_ACTION_LABELS.get(message.action, message.action) or "—"

    # Not the body: it is sealed (a Fernet token differs on every save), so nothing can match it.
    search_fields = ("message_sid", "from_number", "to_number")
    # Only "needs reading" is edited here; the rest is what happened, dates in the clinic's zone.
    # (status_rank only orders Twilio's status callbacks: nothing for people.)
    fields = (
        "when",
        "clinic",
        "patient",
        "appointment",
        "direction",
        "from_number",
        "to_number",
        "body",
        "action_label",
        "reply",
        "needs_reading",
        "status",
        "error_code",
        "message_sid",
        "last_update",
    )
    readonly_fields = [name for name in fields if name != "needs_reading"]
    actions = ["mark_read"]

    @admin.display(description="Body")
    def body_short(self, message: MessageLog) -> str:
        return message.body[:80]

    @admin.action(description="Mark read", permissions=["change"])
    def mark_read(self, request, queryset) -> None:
        self.message_user(request, f"{queryset.update(needs_reading=False)} message(s) marked read.", messages.SUCCESS)

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(CallLog)
class CallLogAdmin(ReadOnlyAdminMixin, ClinicLogAdmin):
    """Every call, as Twilio reported it: read-only (no Save), dates in the clinic's zone."""

    list_display = ("when", "clinic", "from_number", "to_number", "status", "duration_seconds", "answered_by", "stream_status")
    list_filter = ("status", "answered_by", "stream_status", "clinic")

    search_fields = ("call_sid", "from_number", "to_number")
    # The ranks only order Twilio's callbacks (statuses only move forward): nothing for people.
    fields = readonly_fields = (
        "when",
        "clinic",
        "from_number",
        "to_number",
        "direction",
        "status",
        "duration_seconds",
        "answered_by",
        "fallback_reason",
        "stream_status",
        "stream_started",
        "stream_error",
        "call_sid",
        "last_update",
    )
    stream_started = clinic_date("stream_started_at", "AI agent stream started")


@admin.register(AuditRun)
class NumberAuditAdmin(admin.ModelAdmin):
    """The "Number audit" page: the last audit's findings, with buttons to run, fix and adopt.

    Seeing it takes telephony.view_auditrun; each button takes its own permission
    (RUN_AUDIT, FIX_WEBHOOKS, ADOPT) and is hidden without it.
    """

    def has_add_permission(self, request) -> bool:
        return False

    def get_urls(self):
        return [
            path("", self.admin_site.admin_view(self.audit_view), name="telephony_auditrun_changelist"),
            path("run/", self.admin_site.admin_view(self.run_view), name="telephony_audit_run"),
            path("fix/", self.admin_site.admin_view(self.fix_view), name="telephony_audit_fix"),
            path("adopt/", self.admin_site.admin_view(self.adopt_view), name="telephony_audit_adopt"),
            path("release/", self.admin_site.admin_view(self.release_view), name="telephony_audit_release"),
        ]

    def audit_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied("You need the permission telephony.view_auditrun.")
        run = audit_runs.audit_run_last_complete()
        # Re-read against the number history on every view: what was fixed, adopted or
        # released since the run says so instead of offering its button again.
        findings = audit_runs.audit_findings_now(run=run) if run else []
        open_findings = [f for f in findings if not f["resolved"]]
        context = {
            **self.admin_site.each_context(request),
            "title": "Number audit",
            "opts": self.model._meta,
            "run": run,
            # A sweep under way (its progress) while the page shows the last complete result.
            "sweep": AuditRun.objects.filter(status=AuditRun.Status.RUNNING).first(),
            "errors": [f for f in findings if f["severity"] == "error"],
            "warnings": [f for f in findings if f["severity"] == "warning"],
            "webhook_fixable": [f for f in open_findings if f["fixable"] == "webhooks"],
            "all_good": (run.result or {}).get("all_good", []) if run else [],
            "can_release": request.user.has_perm(RELEASE),
            "can_run": request.user.has_perm(RUN_AUDIT),
            "can_fix": request.user.has_perm(FIX_WEBHOOKS),
            "can_adopt": request.user.has_perm(ADOPT),
        }
        return TemplateResponse(request, "admin/telephony/number_audit.html", context)

    def run_view(self, request: HttpRequest) -> HttpResponse:
        permission_require(request, RUN_AUDIT)
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if AuditRun.objects.filter(status=AuditRun.Status.RUNNING, started_at__gte=timezone.now() - AUDIT_STALE).exists():
            self.message_user(request, "An audit is already running.", messages.WARNING)
        else:
            run = audit_runs.audit_run_request(requested_by=request.user)
            run.refresh_from_db()
            # With an eager queue (or a quick worker) it is already over: say that, not "started".
            if run.status == AuditRun.Status.RUNNING:
                self.message_user(request, "Audit started; this page refreshes until it is done.")
            else:
                self.message_user(request, f"Audit {run.get_status_display().lower()}: {run.progress}")
        return redirect("admin:telephony_auditrun_changelist")

    def fix_view(self, request: HttpRequest) -> HttpResponse:
        permission_require(request, FIX_WEBHOOKS)
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        run = audit_runs.audit_run_last_complete()
        findings = audit_runs.audit_findings_now(run=run) if run else []
        wanted = request.POST.get("sid", "")
        mine = [f for f in findings if f["fixable"] == "webhooks" and (not wanted or f["sid"] == wanted)]
        sids = list(dict.fromkeys(f["sid"] for f in mine if not f["resolved"]))
        if not sids and mine:
            self.message_user(request, f"Already fixed: {mine[0]['resolved']}", messages.INFO)
        elif not sids:
            self.message_user(request, "Nothing to fix in the last audit; press Run audit now to check again.", messages.WARNING)
        sent = repairs.number_webhooks_update_request(phone_sids=sids, actor=request_actor(request))
        queued = sum(1 for operation in sent if operation.send_failed_at)
        if queued:
            self.message_user(
                request, f"Webhook reset of {queued} number(s) is saved, but {QUEUED_FOR_RESEND}.", messages.WARNING
            )
        if len(sent) > queued:
            self.message_user(
                request, f"Webhook reset sent for {len(sent) - queued} number(s); each shows “Fixed at …” below once done."
            )
        return redirect("admin:telephony_auditrun_changelist")

    def adopt_view(self, request: HttpRequest) -> HttpResponse:
        permission_require(request, ADOPT)
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        run = audit_runs.audit_run_last_complete()
        sid = request.POST.get("sid", "")
        finding = next(
            (f for f in (audit_runs.audit_findings_now(run=run) if run else []) if f["fixable"] == "adopt" and f["sid"] == sid),
            None,
        )
        if finding is None:
            self.message_user(request, "That number is not an adoptable orphan in the last audit.", messages.ERROR)
        elif finding["resolved"] or Clinic.objects.filter(twilio_number_sid=sid).exists():
            self.message_user(request, f"{finding['phone_number']} is already adopted; nothing changed.", messages.INFO)
        else:
            operation = repairs.orphan_adopt_request(
                clinic_id=finding["clinic_id"],
                phone_sid=finding["sid"],
                phone_number=finding["phone_number"],
                actor=request_actor(request),
            )
            what = f"{finding['phone_number']} for {finding['clinic_name']}"
            if operation.send_failed_at:
                self.message_user(request, f"Adoption of {what} is saved, but {QUEUED_FOR_RESEND}.", messages.WARNING)
            else:
                self.message_user(request, f"Adopting {what}.")
        return redirect("admin:telephony_auditrun_changelist")

    def release_view(self, request: HttpRequest) -> HttpResponse:
        """Release an orphan of the last audit (no clinic holds it): a confirmation page, then
        the release is sent; idempotent (an orphan already released says so)."""
        permission_require(request, RELEASE)
        run = audit_runs.audit_run_last_complete()
        sid = request.POST.get("sid") or request.GET.get("sid", "")
        finding = next(
            (f for f in (audit_runs.audit_findings_now(run=run) if run else []) if f["code"] == "orphan" and f["sid"] == sid),
            None,
        )
        if finding is None:
            self.message_user(request, "That number is not an orphan in the last audit; nothing was released.", messages.ERROR)
            return redirect("admin:telephony_auditrun_changelist")
        if finding["resolved"]:
            self.message_user(request, f"{finding['phone_number']}: already done. {finding['resolved']}", messages.INFO)
            return redirect("admin:telephony_auditrun_changelist")
        if request.method == "POST" and "confirm" in request.POST:
            try:
                operation = release.orphan_release_request(
                    phone_sid=finding["sid"], phone_number=finding["phone_number"], actor=request_actor(request)
                )
            except ClinicNumberError as exc:
                self.message_user(request, f"Not released: {exc}", messages.ERROR)
            else:
                if operation.send_failed_at:
                    message = f"Release of {finding['phone_number']} is saved, but {QUEUED_FOR_RESEND}."
                    self.message_user(request, message, messages.WARNING)
                else:
                    self.message_user(request, f"Release of {finding['phone_number']} sent.")
            return redirect("admin:telephony_auditrun_changelist")
        context = {
            **self.admin_site.each_context(request),
            "title": f"Release {finding['phone_number']}?",
            "opts": self.model._meta,
            "finding": finding,
        }
        return TemplateResponse(request, "admin/telephony/release_orphan.html", context)
