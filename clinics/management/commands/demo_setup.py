from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from clinics.models import Clinic

DEMO_CLINIC = "Demo Dental Austin"


class Command(BaseCommand):
    help = "Create the local demo: a staff superuser and a demo clinic to provision (DEBUG only)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--username", default="admin")
        parser.add_argument("--password", default=None, help="default: $DEMO_ADMIN_PASSWORD or 'dentsignal-demo'")

    def handle(self, *args, username: str, password: str | None, **options) -> None:
        if not settings.DEBUG:
            raise CommandError("demo_setup creates a known admin login; it only runs with DJANGO_DEBUG=true.")
        import os

        password = password or os.environ.get("DEMO_ADMIN_PASSWORD") or "dentsignal-demo"
        User = get_user_model()
        user = User.objects.filter(username=username).first()
        if user is None:
            try:
                validate_password(password)  # AUTH_PASSWORD_VALIDATORS, as for every staff password
            except ValidationError as exc:
                raise CommandError(f"The demo admin's password is too weak: {' '.join(exc.messages)}") from exc
            User.objects.create_superuser(username=username, email="", password=password)
            self.stdout.write(f"Admin login: {username} / {password}")
        else:
            self.stdout.write(f"Admin login: {username} (already existed; password unchanged)")
        clinic, created = Clinic.objects.get_or_create(name=DEMO_CLINIC, defaults={"office_phone": "+15125557000"})
        self.stdout.write(f"Demo clinic: {clinic.name} (id {clinic.id}){' created' if created else ''}")
