"""Pieces both apps' admins use: permission checks, the acting user, safe action selections,
the access log of pages showing patients' data.

They live here, not in one app's admin.py, so that neither admin imports the other.
"""

import ipaddress
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import flatten_fieldsets
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db.models import Model
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse

from clinics import services as clinic_services
from clinics.dates import datetime_for_people
from clinics.models_access import AccessView


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


def client_ip(request: HttpRequest) -> str | None:
    """The address a request came from: REMOTE_ADDR; behind the trusted TLS proxy
    (DJANGO_TRUST_X_FORWARDED_PROTO, whose REMOTE_ADDR is the proxy's own), the last
    X-Forwarded-For entry, the one that proxy wrote (earlier entries are the client's say)."""
    remote = request.META.get("REMOTE_ADDR") or None
    if settings.DJANGO_TRUST_X_FORWARDED_PROTO:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").rsplit(",", 1)[-1].strip()
        try:
            return str(ipaddress.ip_address(forwarded))
        except ValueError:
            pass
    return remote


def access_record(
    request: HttpRequest, *, model: type[Model], object_ids: Iterable[object], fields: Iterable[str], view: AccessView
) -> None:
    """Record in the access log that this request's user was shown `fields` of the rows
    `object_ids` of `model` (patients' data: clinics.services.PATIENT_DATA_MODELS)."""
    user = request.user
    clinic_services.access_record_write(
        user_id=user.pk if user.is_authenticated else None,
        username=user.get_username() if user.is_authenticated else "",
        model=model._meta.label_lower,
        object_ids=object_ids,
        fields=fields,
        view=view,
        ip=client_ip(request),
        path=request.get_full_path(),
    )


# What the access log names as shown when a page shows only a row's name (its str()).
NAME_SHOWN = "name"


class AccessLoggedAdminMixin(admin.ModelAdmin):
    """The admin of a model holding patients' data: every page that shows its rows writes
    one access record. The list: the rows on the page and the columns; the detail page:
    the row and its fields; the history and delete pages: the row's name."""

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        response = super().changelist_view(request, extra_context)
        changelist = _shown(response, "cl")
        if changelist is not None:
            columns = [name for name in changelist.list_display if name != "action_checkbox"]
            ids = [row.pk for row in changelist.result_list]
            access_record(request, model=self.model, object_ids=ids, fields=columns, view=AccessView.LIST)
        return response

    def changeform_view(
        self, request: HttpRequest, object_id: str | None = None, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        response = super().changeform_view(request, object_id, form_url, extra_context)
        row = _shown(response, "original")
        if row is not None:
            fields = flatten_fieldsets(self.get_fieldsets(request, row))
            access_record(request, model=self.model, object_ids=[row.pk], fields=fields, view=AccessView.DETAIL)
        return response

    def history_view(self, request: HttpRequest, object_id: str, extra_context: dict | None = None) -> HttpResponse:
        response = super().history_view(request, object_id, extra_context)
        self._record_named(request, _shown(response, "object"))
        return response

    def delete_view(self, request: HttpRequest, object_id: str, extra_context: dict | None = None) -> HttpResponse:
        response = super().delete_view(request, object_id, extra_context)
        self._record_named(request, _shown(response, "object"))
        return response

    def _record_named(self, request: HttpRequest, row: Model | None) -> None:
        if row is not None:
            access_record(request, model=self.model, object_ids=[row.pk], fields=[NAME_SHOWN], view=AccessView.DETAIL)


def _shown(response: HttpResponse, name: str) -> Any:
    """`name` from the context of a page rendered for the user (200), else None (a
    redirect after a save, a refusal, an error page)."""
    if response.status_code != 200 or not isinstance(response, TemplateResponse):
        return None
    return (response.context_data or {}).get(name)
