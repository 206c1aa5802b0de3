"""Staff logins with a second factor: the admin site every `@admin.register` uses.

With STAFF_2FA_REQUIRED (on whenever DEBUG is off) a login takes two steps:

1. the password (Django's admin login form; django-axes counts the failures). A right
   password does not log in: it only marks the session as pending for that user, for
   STAFF_2FA_PENDING_SECONDS;
2. a code from the user's authenticator app (TOTP, django-otp). Staff without a confirmed
   device enrol one here first: the QR code and its secret are shown once (a reload makes
   a new one), and the first right code confirms it. Only a right code logs the user in,
   verified; a wrong one gets a sentence, counts as a failed login for django-axes, and
   leaves no logged-in session.

The site admits only verified sessions, and so does the admin API
(telephony/auth.py). Without STAFF_2FA_REQUIRED (DJANGO_DEBUG=true, scripts/dev) the
login is Django's, password only.
"""

from __future__ import annotations

import base64
import io
import re
import time
from typing import Any
from urllib.parse import urlencode

from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth import REDIRECT_FIELD_NAME, logout, user_login_failed
from django.contrib.auth import login as auth_login
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import URLPattern, URLResolver, path, reverse
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp.qr import write_qrcode_image

from dentsignal.session_limits import LOGOUT_REASON

PENDING = "staff_2fa_pending"
ENROLLING_DEVICE = "staff_2fa_enrolling_device"
CODE_RE = re.compile(r"\d{6}")

WRONG_CODE = "That code is not right. Enter the 6-digit code your authenticator app shows now."
NOT_A_CODE = "Enter the 6-digit code your authenticator app shows (digits only)."
THROTTLED = "Too many wrong codes in a row: wait a few seconds, then enter the code your authenticator app shows."
ENROL_AGAIN = "That code did not match the QR code shown before. Scan this new QR code, then enter the code it gives."
PENDING_EXPIRED = "The code was not entered within a few minutes of the password. Log in again."
TWO_FACTOR_NOW = "Staff logins now need a code from an authenticator app. Log in again."


def user_is_verified(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Whether this request's user gave a second factor in this session (django-otp's OTPMiddleware)."""
    is_verified = getattr(user, "is_verified", None)
    return bool(is_verified and is_verified())


def lockout_response(request: HttpRequest, original_response: HttpResponse | None, credentials: dict | None) -> HttpResponse:
    """django-axes' answer to a locked-out login (AXES_LOCKOUT_CALLABLE): a page that says why and for how long."""
    request.session.pop(PENDING, None)
    return render(
        request,
        "admin/staff_locked_out.html",
        {
            **admin.site.each_context(request),
            "title": "Login paused",
            # What django-axes applies (settings.py sets them from STAFF_LOGIN_*).
            "failure_limit": settings.AXES_FAILURE_LIMIT,
            "cooloff_minutes": int(settings.AXES_COOLOFF_TIME.total_seconds() // 60),
        },
        status=429,
    )


class PasswordStepView(LoginView):
    """Django's login view, except that a right password leads to the code step, not into the admin."""

    def form_valid(self, form: Any) -> HttpResponse:
        user = form.get_user()
        self.request.session.cycle_key()
        self.request.session[PENDING] = {"user": user.pk, "backend": user.backend, "at": time.time()}
        query = urlencode({REDIRECT_FIELD_NAME: self.get_redirect_url() or reverse("admin:index")})
        return HttpResponseRedirect(f"{reverse('admin:login_second_factor')}?{query}")


class StaffAdminSite(admin.AdminSite):
    """Django's AdminSite that admits only sessions verified by a second factor when STAFF_2FA_REQUIRED."""

    def has_permission(self, request: HttpRequest) -> bool:
        if not super().has_permission(request):
            return False
        return not settings.STAFF_2FA_REQUIRED or user_is_verified(request.user)

    def get_urls(self) -> list[URLResolver | URLPattern]:
        return [path("login/code/", self.second_factor, name="login_second_factor"), *super().get_urls()]

    @method_decorator(never_cache)
    @method_decorator(login_not_required)
    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        """The password step; says why a session ended, if one just did."""
        if settings.STAFF_2FA_REQUIRED and request.user.is_authenticated and not user_is_verified(request.user):
            # A session logged in with a password alone (before two-factor was required).
            logout(request)
            request.session[LOGOUT_REASON] = TWO_FACTOR_NOW
        reason = request.session.pop(LOGOUT_REASON, None)
        if reason and request.method == "GET":
            messages.warning(request, reason)
        if not settings.STAFF_2FA_REQUIRED:
            return super().login(request, extra_context)
        if request.method == "GET" and self.has_permission(request):
            return HttpResponseRedirect(reverse("admin:index", current_app=self.name))
        from django.contrib.admin.forms import AdminAuthenticationForm

        # As AdminSite.login builds it (Django 5.2), with the password step's view.
        context = {
            **self.each_context(request),
            "title": "Log in",
            "subtitle": None,
            "app_path": request.get_full_path(),
            "username": request.user.get_username(),
        }
        if REDIRECT_FIELD_NAME not in request.GET and REDIRECT_FIELD_NAME not in request.POST:
            context[REDIRECT_FIELD_NAME] = reverse("admin:index", current_app=self.name)
        context.update(extra_context or {})
        request.current_app = self.name
        view: Any = PasswordStepView.as_view(
            extra_context=context,
            authentication_form=self.login_form or AdminAuthenticationForm,
            template_name=self.login_template or "admin/login.html",
        )
        return view(request)

    @method_decorator(never_cache)
    @method_decorator(login_not_required)
    def second_factor(self, request: HttpRequest) -> HttpResponse:
        """The code step: enrol an authenticator (first login) or check its code; a right code logs in."""
        pending = request.session.get(PENDING)
        user = _pending_user(pending)
        if user is None or not isinstance(pending, dict):
            if pending is not None:
                request.session.pop(PENDING, None)
                request.session[LOGOUT_REASON] = PENDING_EXPIRED
            return HttpResponseRedirect(reverse("admin:login", current_app=self.name))
        next_url = request.POST.get(REDIRECT_FIELD_NAME) or request.GET.get(REDIRECT_FIELD_NAME) or ""
        if not url_has_allowed_host_and_scheme(next_url, {request.get_host()}, require_https=request.is_secure()):
            next_url = reverse("admin:index", current_app=self.name)
        device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
        enrolling = device is None
        if enrolling:
            device = TOTPDevice.objects.filter(user=user, confirmed=False, pk=request.session.get(ENROLLING_DEVICE)).first()
        error = ""
        credentials = {"username": user.get_username()}
        if request.method == "POST" and AxesProxyHandler.is_locked(request, credentials):
            # Locked out since the password (failures elsewhere from this address): no code helps now.
            return lockout_response(request, None, credentials)
        if request.method == "POST":
            code = re.sub(r"\s", "", request.POST.get("code", ""))
            if device is None:
                error = ENROL_AGAIN
            elif not CODE_RE.fullmatch(code):
                error = NOT_A_CODE
            elif (allowed := device.verify_is_allowed()[0]) and device.verify_token(code):
                return _log_in(request, user, pending["backend"], device, next_url)
            else:
                error = WRONG_CODE if allowed else THROTTLED
                # A guess, counted with the wrong passwords: django-axes locks the login out at the limit.
                user_login_failed.send(sender=__name__, credentials=credentials, request=request)
        context: dict[str, Any] = {
            **self.each_context(request),
            "title": "Set up your authenticator app" if enrolling else "Enter your code",
            "error": error,
            "enrolling": enrolling,
            "next": next_url,
            "username": user.get_username(),
        }
        if enrolling and (request.method == "GET" or device is None):
            context.update(_enrolment_begin(request, user))
        request.current_app = self.name
        return render(request, "admin/staff_second_factor.html", context, status=400 if error else 200)


def _pending_user(pending: Any) -> User | None:
    """The staff user whose password was right moments ago, or None (none, expired, no longer staff)."""
    if not isinstance(pending, dict) or time.time() - pending.get("at", 0) > settings.STAFF_2FA_PENDING_SECONDS:
        return None
    return User.objects.filter(pk=pending.get("user") or 0, is_active=True, is_staff=True).first()


def _enrolment_begin(request: HttpRequest, user: AbstractBaseUser) -> dict[str, str]:
    """A new, unconfirmed TOTP device for `user` (replacing any earlier unconfirmed one), and its
    QR code and secret, shown this once."""
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    device = TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)
    request.session[ENROLLING_DEVICE] = device.pk
    svg = io.BytesIO()
    write_qrcode_image(device.config_url, svg)
    secret = base64.b32encode(device.bin_key).decode()
    qr = "data:image/svg+xml;base64," + base64.b64encode(svg.getvalue()).decode()
    return {"qr": qr, "secret": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))}


def _log_in(request: HttpRequest, user: User, backend: str, device: TOTPDevice, next_url: str) -> HttpResponse:
    """Log `user` in, verified by `device` (confirmed now if it was being enrolled)."""
    if not device.confirmed:
        device.confirmed = True
        device.save(update_fields=["confirmed"])
    request.session.pop(PENDING, None)
    request.session.pop(ENROLLING_DEVICE, None)
    auth_login(request, user, backend=backend)
    otp_login(request, device)
    return HttpResponseRedirect(next_url)
