"""Pieces both apps' admins use: permission checks, the acting user, safe action selections.

They live here, not in one app's admin.py, so that neither admin imports the other.
"""

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect

from clinics.dates import datetime_for_people


def clinic_date(field: str, description: str) -> Callable[[Any, Any], str]:
    """An admin column or read-only field: the row's date `field` in its clinic's time zone,
    in the one format staff read everywhere (clinics.dates: "2 Dec 2026, 11:05 CST"; "—"
    for none). A row without a clinic (or a deleted one) shows the server's zone."""

    @admin.display(description=description, ordering=field)
    def column(model_admin: Any, row: Any) -> str:
        clinic = getattr(row, "clinic", None)
        return datetime_for_people(getattr(row, field), clinic.time_zone if clinic else "")

    return column


def permission_require(request: HttpRequest, permission: str) -> None:
    """Raise PermissionDenied (a 403 page) unless the user holds `permission` ("app.codename").

    The custom admin views call it first, so nothing is read from or sent to Twilio
    for a user without the power; README "Staff permissions" lists who has which.
    """
    if not request.user.has_perm(permission):
        raise PermissionDenied(f"You need the permission {permission}.")


def request_actor(request: HttpRequest) -> User | None:
    """The logged-in user behind an admin request, recorded as the actor of what it changes."""
    return request.user if request.user.is_authenticated else None


class SafeSelectionMixin(admin.ModelAdmin):
    """Admin actions get a clear error, not a 500, for a forged or garbled selection."""

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        if request.method == "POST" and "action" in request.POST:
            selected = request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)
            if any(not value.isdigit() or len(value) > 18 for value in selected):
                self.message_user(request, "The selection was not valid; nothing was done.", messages.ERROR)
                return HttpResponseRedirect(request.get_full_path())
        return super().changelist_view(request, extra_context)


class ReadOnlyAdminMixin(admin.ModelAdmin):
    """A record people read and never edit here (a log, a history, Twilio's answers): no
    Add, no Save, no Delete, for anyone; whoever may view it sees its fields as text."""

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
