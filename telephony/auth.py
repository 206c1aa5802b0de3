"""Authentication for the admin API: a staff session (verified by its second factor when
STAFF_2FA_REQUIRED), or `Authorization: Bearer <token>` (tokens are made in the admin, which
itself needs the second factor, and kept only as hashes)."""

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.utils import timezone

from telephony.models import ApiToken, token_hash


class ApiAuthError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def api_staff_user(request: HttpRequest) -> User:
    """The staff user making this API request, or raise ApiAuthError (401/403).

    A bearer token is checked against the stored hashes; a session must also pass
    Django's CSRF check, since a browser sends its cookie on any site's request.
    """
    header = request.headers.get("Authorization", "")
    user: User | AnonymousUser
    if header:
        scheme, _, raw = header.partition(" ")
        if scheme.lower() != "bearer" or not raw.strip():
            raise ApiAuthError(401, "Send the API token as 'Authorization: Bearer <token>'.")
        token = ApiToken.objects.select_related("user").filter(key_hash=token_hash(raw.strip())).first()
        if token is None or not token.user.is_active:
            raise ApiAuthError(401, "The API token is not valid.")
        user = token.user
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
    else:
        user = request.user
        if not user.is_authenticated:
            raise ApiAuthError(401, "Log in as staff or send an API token ('Authorization: Bearer <token>').")
        if settings.STAFF_2FA_REQUIRED and not _session_verified(user):
            # A staff session counts only with its second factor, as in the admin (dentsignal/staff_login.py).
            raise ApiAuthError(401, "Log in to the admin with your authenticator app's code, or send an API token.")
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            rejected: HttpResponse | None = CsrfViewMiddleware(_no_response).process_view(request, _no_response, (), {})
            if rejected is not None:
                raise ApiAuthError(403, "CSRF check failed: a session needs the CSRF token; scripts should use an API token.")
    if not user.is_authenticated or not user.is_staff:
        raise ApiAuthError(403, "Only staff may use the admin API.")
    return user


def _session_verified(user: User | AnonymousUser) -> bool:
    """Whether this session gave a second factor (django-otp's OTPMiddleware sets is_verified)."""
    is_verified = getattr(user, "is_verified", None)
    return bool(is_verified and is_verified())


def _no_response(request: HttpRequest) -> HttpResponse:
    """A stand-in view for running Django's CSRF check alone (it only reads the view's csrf_exempt flag)."""
    return HttpResponse()


def api_permission_require(user: User, permission: str) -> None:
    """Raise ApiAuthError(403) with a sentence naming `permission` unless `user` holds it.

    Checked before the body is read, so a refused request changes nothing and sends
    nothing to Twilio.
    """
    if not user.has_perm(permission):
        raise ApiAuthError(
            403,
            f"Your account lacks the permission {permission}; ask an administrator to add you to the Onboarding staff group.",
        )
