"""The access log in the admin: superusers read it and download it as CSV; nobody, a
superuser included, adds, changes or deletes a record (the model refuses it too)."""

import csv
from collections.abc import Iterator

from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from django.urls import path
from django.utils import timezone

from ..dates import datetime_for_people
from ..models_access import AccessRecord

EXPORT_COLUMNS = ("at", "user_id", "username", "view", "model", "object_ids", "fields", "ip", "path")


class AccessLogMedia:
    """Keeps the access log readable from 390 px to 1366 px wide."""

    css = {"all": ("clinics/access-log.css",)}


class AccessRecordAdmin(admin.ModelAdmin):
    Media = AccessLogMedia
    list_display = ("when", "username", "view", "what", "shown_fields", "ip", "path")
    list_filter = ("view", "model")
    search_fields = ("username", "path", "ip")
    date_hierarchy = "at"
    fields = readonly_fields = EXPORT_COLUMNS
    show_full_result_count = False

    @admin.display(description="When", ordering="at")
    def when(self, record: AccessRecord) -> str:
        return datetime_for_people(record.at, "")

    @admin.display(description="What (model: rows)", ordering="model")
    def what(self, record: AccessRecord) -> str:
        return f"{record.model}: {', '.join(record.object_ids)}"

    @admin.display(description="Fields shown")
    def shown_fields(self, record: AccessRecord) -> str:
        return " ".join(record.fields)

    # Reading is for superusers only; writing is for no one.
    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def get_urls(self):
        export = path("export/", self.admin_site.admin_view(self.export_view), name="clinics_accessrecord_export")
        return [export, *super().get_urls()]

    def export_view(self, request: HttpRequest) -> HttpResponseBase:
        """The records the list shows (its filters and search applied), every page, as CSV."""
        if not self.has_view_permission(request):
            raise PermissionDenied("Only superusers may read the access log.")
        try:
            records = self.get_changelist_instance(request).get_queryset(request)
        except IncorrectLookupParameters:
            self.message_user(request, "The export's filters were not valid; nothing was exported.", messages.ERROR)
            return redirect("admin:clinics_accessrecord_changelist")
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        response = StreamingHttpResponse(_csv_lines(records.iterator(chunk_size=2000)), content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="access-log-{stamp}.csv"'
        return response


class _Echo:
    """A file-like object whose write returns the line, for streaming csv (Django docs,
    "Streaming large CSV files")."""

    def write(self, value: str) -> str:
        return value


def _csv_lines(records: Iterator[AccessRecord]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(EXPORT_COLUMNS)
    for record in records:
        yield writer.writerow(
            [
                record.at.isoformat(),
                record.user_id if record.user_id is not None else "",
                record.username,
                record.view,
                record.model,
                " ".join(record.object_ids),
                " ".join(record.fields),
                record.ip or "",
                record.path,
            ]
        )
