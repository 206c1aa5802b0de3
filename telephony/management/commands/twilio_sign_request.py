import shlex
from urllib.parse import urlencode

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from twilio.request_validator import RequestValidator

from telephony.webhook_urls import SMS_PATH, STATUS_PATH, VOICE_PATH

EXAMPLES = {
    "voice": (VOICE_PATH, {"CallSid": "CA" + "1" * 32, "From": "+15125550111", "To": "", "CallStatus": "ringing"}),
    "sms": (SMS_PATH, {"MessageSid": "SM" + "1" * 32, "From": "+15125550111", "To": "", "Body": "C"}),
    "status": (STATUS_PATH, {"CallSid": "CA" + "1" * 32, "CallStatus": "completed", "CallDuration": "42"}),
}


class Command(BaseCommand):
    help = (
        "Print a ready-to-run curl command with a valid X-Twilio-Signature for one of our webhooks, "
        "signed with TWILIO_AUTH_TOKEN over API_BASE_URL + path, as Twilio signs it."
    )

    def create_parser(self, prog_name: str, subcommand: str, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        # KEY=VALUE parameters may come before or after the options. Django calls
        # parse_args and argparse has no switch for intermixed parsing, so this one
        # parser's method is replaced on purpose.
        parser.parse_args = parser.parse_intermixed_args  # type: ignore[method-assign]
        return parser

    def add_arguments(self, parser) -> None:
        parser.add_argument("webhook", choices=sorted(EXAMPLES), help="which webhook")
        parser.add_argument("params", nargs="*", help="KEY=VALUE form parameters (override the example's)")
        parser.add_argument("--to", default="", help="the clinic number called or texted (To)")
        parser.add_argument("--url", default="", help="where to send it (default: API_BASE_URL)")

    def handle(self, *args, webhook: str, params: list[str], to: str, url: str, **options) -> None:
        path, example = EXAMPLES[webhook]
        form = dict(example)
        if "To" in form:
            form["To"] = to
        for item in params:
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise CommandError(f"{item!r} is not KEY=VALUE.")
            form[key] = value
        public = settings.API_BASE_URL.rstrip("/") + path
        signature = RequestValidator(settings.TWILIO_AUTH_TOKEN).compute_signature(public, form)
        target = (url.rstrip("/") or settings.API_BASE_URL.rstrip("/")) + path
        self.stdout.write(
            f"curl -sS -X POST {shlex.quote(target)} -H {shlex.quote('X-Twilio-Signature: ' + signature)} "
            f"--data {shlex.quote(urlencode(form))}"
        )
