import shlex
from urllib.parse import urlencode

from django.core.management.base import BaseCommand, CommandError

from telephony.numbers.simulated_traffic import WEBHOOKS, twilio_signature, webhook_example
from telephony.webhook_urls import public_base_url_for


class Command(BaseCommand):
    help = (
        "Print a ready-to-run curl command with a valid X-Twilio-Signature for one of our webhooks, "
        "signed with TWILIO_AUTH_TOKEN over API_BASE_URL + path, as Twilio signs it. "
        "Each run makes a fresh CallSid/MessageSid (pass CallSid=... or MessageSid=... to reuse one)."
    )

    def create_parser(self, prog_name: str, subcommand: str, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        # KEY=VALUE parameters may come before or after the options. Django calls
        # parse_args and argparse has no switch for intermixed parsing, so this one
        # parser's method is replaced on purpose.
        parser.parse_args = parser.parse_intermixed_args  # type: ignore[method-assign]
        return parser

    def add_arguments(self, parser) -> None:
        parser.add_argument("webhook", choices=WEBHOOKS, help="which webhook (stream: the AI agent's stream status)")
        parser.add_argument("params", nargs="*", help="KEY=VALUE form parameters (override the example's)")
        parser.add_argument("--to", default="", help="the clinic number called or texted (To)")
        parser.add_argument("--url", default="", help="where to send it (default: API_BASE_URL)")

    def handle(self, *args, webhook: str, params: list[str], to: str, url: str, **options) -> None:
        # Fresh SIDs each run: a repeated CallSid/MessageSid is a Twilio retry, which our
        # webhooks rightly ignore, so a second hand-made test would silently do nothing.
        path, form = webhook_example(webhook, to=to)
        for item in params:
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise CommandError(f"{item!r} is not KEY=VALUE.")
            form[key] = value
        if webhook == "sms" and "MessageSid" in form:
            form["SmsSid"] = form["MessageSid"]  # Twilio sends both, equal
        signature = twilio_signature(path, form)
        target = (url.rstrip("/") or public_base_url_for(path)) + path
        self.stdout.write(
            f"curl -sS -X POST {shlex.quote(target)} -H {shlex.quote('X-Twilio-Signature: ' + signature)} "
            f"--data {shlex.quote(urlencode(form))}"
        )
