"""URL routes. Twilio's webhook paths are fixed (see telephony.webhook_paths)."""

from django.contrib import admin
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.views import defaults

from telephony import api
from telephony.webhook_paths import (
    A2P_STATUS_PATH,
    SMS_FALLBACK_PATH,
    SMS_PATH,
    STATUS_PATH,
    STREAM_STATUS_PATH,
    VOICE_FALLBACK_PATH,
    VOICE_PATH,
)
from telephony.webhooks import fallbacks
from telephony.webhooks import views as webhooks

admin.site.site_header = "DentSignal"
admin.site.site_title = "DentSignal admin"
admin.site.index_title = "Clinics and their phone numbers"
# No public site is served here ("/" is a 404): no "View site" link in the admin's header.
admin.site.site_url = None

urlpatterns = [
    path("admin/", admin.site.urls),
    # Twilio's webhooks: exact paths, no trailing slash, defined in telephony.webhook_paths.
    path(VOICE_PATH.lstrip("/"), webhooks.inbound_voice, name="twilio-voice"),
    path(SMS_PATH.lstrip("/"), webhooks.inbound_sms, name="twilio-sms"),
    path(STATUS_PATH.lstrip("/"), webhooks.status_callback, name="twilio-status"),
    path(STREAM_STATUS_PATH.lstrip("/"), webhooks.stream_status, name="twilio-stream-status"),
    path(A2P_STATUS_PATH.lstrip("/"), webhooks.a2p_status, name="twilio-a2p-status"),
    # Their fallbacks (Twilio's VoiceFallbackUrl/SmsFallbackUrl): answered without the database.
    path(VOICE_FALLBACK_PATH.lstrip("/"), fallbacks.voice_fallback, name="twilio-voice-fallback"),
    path(SMS_FALLBACK_PATH.lstrip("/"), fallbacks.sms_fallback, name="twilio-sms-fallback"),
    path("api/admin/provision-number", api.provision_number, name="api-provision-number"),
    path("api/admin/clinics/<int:clinic_id>/number", api.clinic_number, name="api-clinic-number"),
]


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def handler404(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return JsonResponse({"error": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)


def handler500(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        return JsonResponse({"error": "Internal error; it has been logged."}, status=500)
    return defaults.server_error(request)


def handler400(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return JsonResponse({"error": "Bad request."}, status=400)
    return defaults.bad_request(request, exception)


def handler403(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return JsonResponse({"error": "Forbidden."}, status=403)
    return defaults.permission_denied(request, exception)
