"""Admin for API tokens (created with `manage.py create_api_token`; only hashes are kept)."""

from django.contrib import admin

from .models import ApiToken, CallLog, MessageLog


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("key_prefix", "user", "name", "created_at", "last_used_at")
    readonly_fields = ("user", "key_prefix", "created_at", "last_used_at")
    exclude = ("key_hash",)

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(MessageLog)
class MessageLogAdmin(admin.ModelAdmin):
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
    list_display = ("created_at", "clinic", "from_number", "to_number", "status", "duration_seconds")
    list_filter = ("status", "clinic")
    search_fields = ("call_sid", "from_number", "to_number")
    readonly_fields = [f.name for f in CallLog._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False
