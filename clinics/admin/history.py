"""Number history: every clinic's number events on one read-only page, those of deleted
clinics included (their clinic link is gone, their name is kept). It is the record of what
was bought, and paid for, at Twilio; the clinic page's History button shows one clinic's."""

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from dentsignal.admin_tools import ReadOnlyAdminMixin, clinic_date

from ..models import NumberEvent


class DeletedClinicFilter(admin.SimpleListFilter):
    """Events of clinics that still exist, or of deleted ones."""

    title = "clinic"
    parameter_name = "clinic_deleted"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("yes", "Deleted clinics"), ("no", "Current clinics")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[NumberEvent]) -> QuerySet[NumberEvent]:
        if self.value() == "yes":
            return queryset.filter(clinic__isnull=True).exclude(clinic_name="")
        if self.value() == "no":
            return queryset.filter(clinic__isnull=False)
        return queryset


class NumberEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: history is written by the services, never edited. Whoever may see clinics
    may see their history (the History button's rule), deleted clinics' included."""

    list_display = ("when", "clinic_label", "kind", "phone_number", "detail", "by")
    list_filter = (DeletedClinicFilter, "kind")
    search_fields = ("clinic_name", "phone_number")
    list_select_related = ("clinic", "actor")
    empty_value_display = "—"
    show_full_result_count = False
    fields = readonly_fields = ("when", "clinic_label", "kind", "phone_number", "detail", "by")

    class Media:
        # The clinic pages' layout: at 390 px each row becomes a small card.
        css = {"all": ("clinics/admin-layout.css",)}

    # A deleted clinic's zone went with it: its events show in the server's zone.
    when = clinic_date("created_at", "When")

    @admin.display(description="Clinic", ordering="clinic_name")
    def clinic_label(self, event: NumberEvent) -> str:
        if event.clinic is not None:
            return event.clinic.name
        return f"{event.clinic_name} (deleted)" if event.clinic_name else "no clinic"

    @admin.display(description="By")
    def by(self, event: NumberEvent) -> str:
        return event.actor.get_username() if event.actor else "system"

    def has_view_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return request.user.has_perm("clinics.view_clinic") or super().has_view_permission(request, obj)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)
