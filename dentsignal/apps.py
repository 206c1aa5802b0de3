"""Django's admin app, with our admin site as the default `admin.site`."""

from django.contrib.admin.apps import AdminConfig


class StaffAdminConfig(AdminConfig):
    """`django.contrib.admin` whose default site asks staff for a second factor (dentsignal/staff_login.py).

    Django documents this way of replacing the default site, so every `@admin.register`
    in the project keeps registering on `admin.site`.
    https://docs.djangoproject.com/en/5.2/ref/contrib/admin/#overriding-the-default-admin-site
    """

    default_site = "dentsignal.staff_login.StaffAdminSite"

    def ready(self) -> None:
        super().ready()
        from dentsignal import session_limits

        session_limits.connect()
