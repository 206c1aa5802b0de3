from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from twilio_sandbox import SANDBOX_ACCOUNT_SID
from twilio_sandbox.server import serve_forever


class Command(BaseCommand):
    help = "Serve the sandbox Twilio REST API (a development and test tool)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8765)
        parser.add_argument("--db", default=settings.TWILIO_SANDBOX_DB, help="state file (kept across restarts)")

    def handle(self, *args, host: str, port: int, db: str, **options) -> None:
        Path(db).parent.mkdir(parents=True, exist_ok=True)
        self.stdout.write(f"Sandbox Twilio on http://{host}:{port} (account {SANDBOX_ACCOUNT_SID}, state in {db})")
        try:
            serve_forever(host, port, db)
        except KeyboardInterrupt:
            self.stdout.write("Sandbox Twilio stopped.")
