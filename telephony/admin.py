"""Telephony admin: API tokens (hashes only), call and message logs, the Number audit page."""

import datetime as dt

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone

from dentsignal.admin_tools import SafeSelectionMixin, permission_require

from . import audit, provisioning
from .models import ApiToken, AuditRun, CallLog, MessageLog

# A run still "running" after this long died with its worker; a new one may start.
AUDIT_STALE = dt.timedelta(minutes=15)
# The Number audit page's powers. Fixing webhooks is the same power as the clinic's
# "Update webhooks" action, so it is the same permission.
RUN_AUDIT, FIX_WEBHOOKS, ADOPT = "telephony.run_number_audit", "clinics.update_number_webhooks", "telephony.adopt_number"


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("key_prefix", "user", "name", "created_at", "last_used_at")
    readonly_fields = ("user", "key_prefix", "created_at", "last_used_at")
    exclude = ("key_hash",)

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(MessageLog)
class MessageLogAdmin(SafeSelectionMixin, admin.ModelAdmin):
    """Every SMS; filter "needs reading" per clinic for the staff inbox."""

    list_display = ("created_at", "clinic", "direction", "from_number", "body_short", "action", "status", "needs_reading")
    list_filter = ("needs_reading", "direction", "action", "clinic")
    search_fields = ("message_sid", "from_number", "to_number", "body")
    readonly_fields = [f.name for f in MessageLog._meta.fields if f.name != "needs_reading"]
    actions = ["mark_read"]

    @admin.display(description="Body")
    def body_short(self, message: MessageLog) -> str:
        return message.body[:80]

    @admin.action(description="Mark read", permissions=["change"])
    def mark_read(self, request, queryset) -> None:
        self.message_user(request, f"{queryset.update(needs_reading=False)} message(s) marked read.")

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(CallLog)
class CallLogAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "clinic",
        "from_number",
        "to_number",
        "status",
        "duration_seconds",
        "answered_by",
        "stream_status",
    )
    list_filter = ("status", "answered_by", "stream_status", "clinic")
    search_fields = ("call_sid", "from_number", "to_number")
    readonly_fields = [f.name for f in CallLog._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False


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
        ]

    def audit_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied("You need the permission telephony.view_auditrun.")
        run = AuditRun.objects.first()
        findings = run.result.get("findings", []) if run else []
        context = {
            **self.admin_site.each_context(request),
            "title": "Number audit",
            "opts": self.model._meta,
            "run": run,
            "errors": [f for f in findings if f["severity"] == "error"],
            "warnings": [f for f in findings if f["severity"] == "warning"],
            "webhook_fixable": [f for f in findings if f["fixable"] == "webhooks"],
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
            audit.audit_run_request(requested_by=request.user)
            self.message_user(request, "Audit started.")
        return redirect("admin:telephony_auditrun_changelist")

    def fix_view(self, request: HttpRequest) -> HttpResponse:
        permission_require(request, FIX_WEBHOOKS)
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        run = AuditRun.objects.first()
        findings = run.result.get("findings", []) if run else []
        wanted = request.POST.get("sid", "")
        sids = list(
            dict.fromkeys(f["sid"] for f in findings if f["fixable"] == "webhooks" and (not wanted or f["sid"] == wanted))
        )
        if not sids:
            self.message_user(request, "Nothing to fix: run the audit again to see the current state.", messages.WARNING)
        provisioning.number_webhooks_update_request(phone_sids=sids)
        if sids:
            self.message_user(request, f"Webhook reset started for {len(sids)} number(s); run the audit again to check.")
        return redirect("admin:telephony_auditrun_changelist")

    def adopt_view(self, request: HttpRequest) -> HttpResponse:
        permission_require(request, ADOPT)
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        run = AuditRun.objects.first()
        sid = request.POST.get("sid", "")
        finding = next(
            (f for f in (run.result.get("findings", []) if run else []) if f["fixable"] == "adopt" and f["sid"] == sid), None
        )
        if finding is None:
            self.message_user(request, "That number is not an adoptable orphan in the last audit.", messages.ERROR)
        else:
            provisioning.orphan_adopt_request(
                clinic_id=finding["clinic_id"], phone_sid=finding["sid"], phone_number=finding["phone_number"]
            )
            self.message_user(request, f"Adopting {finding['phone_number']} for {finding['clinic_name']}.")
        return redirect("admin:telephony_auditrun_changelist")
