"""The list search that also finds a phone number typed in any common format."""

from django.contrib import admin
from django.db.models import Q, QuerySet
from django.http import HttpRequest

from ..phone import phone_search_digits, phone_search_term


class PhoneSearchMixin(admin.ModelAdmin):
    """The list search also finds a phone number typed in any common format.

    "(512) 555-0103", "512-555-0103", "5125550103" and "+15125550103" are all looked up
    as +15125550103 (exactly, so an index serves it) in `phone_search_fields`, besides
    Django's usual search; part of a number as people type it ("555-0103", "555 0103")
    is looked up by its digits anywhere in those fields.
    """

    phone_search_fields: tuple[str, ...] = ()

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str) -> tuple[QuerySet, bool]:
        found, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        e164, digits = phone_search_term(search_term), phone_search_digits(search_term)
        if e164 is None and digits is None:
            return found, may_have_duplicates
        by_number = Q()
        for field in self.phone_search_fields:
            by_number |= Q(**{(field if e164 else f"{field}__contains"): e164 or digits})
        return found | queryset.filter(by_number), may_have_duplicates
