from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from telephony.models import ApiToken


class Command(BaseCommand):
    help = "Create an admin API token for a staff user and print it once (only its hash is stored)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="", help="what the token is for")

    def handle(self, *args, username: str, name: str, **options) -> None:
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        if not user.is_staff or not user.is_active:
            raise CommandError(f"{username} is not an active staff user; the admin API only accepts staff.")
        _, raw = ApiToken.issue(user=user, name=name)
        self.stdout.write(raw)
