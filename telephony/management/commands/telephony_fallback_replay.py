from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from telephony.fallback_store import FallbackStoreError
from telephony.webhooks import fallbacks


class Command(BaseCommand):
    help = (
        "Process the texts the SMS fallback kept while the database was down (each once), and rebuild the voice "
        "fallback's office-line cache. Celery beat does both on its own; run this where there is no beat "
        "(the embedded default)."
    )

    def handle(self, *args, **options) -> None:
        try:
            replayed = fallbacks.fallback_sms_replay()
            cached = fallbacks.office_lines_refresh()
        except (DatabaseError, FallbackStoreError) as exc:
            raise CommandError(f"Could not replay yet; the texts stay spooled and nothing was lost: {exc}") from exc
        self.stdout.write(f"Replayed {replayed} spooled text(s); {cached} clinic number(s) in the office-line cache.")
