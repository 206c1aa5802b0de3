from django.core.management.base import BaseCommand, CommandError

from telephony import twilio_service
from telephony.management.commands._base import clinic_or_error


class Command(BaseCommand):
    help = "Point numbers' Voice, SMS, status-callback and fallback webhooks at today's API_BASE_URL (and fallback base URL)."

    def add_arguments(self, parser) -> None:
        target = parser.add_mutually_exclusive_group(required=True)
        target.add_argument("--clinic", type=int, help="the number this clinic holds")
        target.add_argument("--sid", help="a number by its SID (PN…)")
        target.add_argument(
            "--all", action="store_true", dest="all_numbers", help="every number on the account whose webhooks drifted"
        )

    def handle(self, *args, clinic: int | None, sid: str | None, all_numbers: bool, **options) -> None:
        if clinic is not None:
            record = clinic_or_error(clinic)
            if not record.twilio_number_sid:
                raise CommandError(f"{record.name} has no number.")
            sids = [record.twilio_number_sid]
        elif sid is not None:
            sids = [sid]
        else:
            listing = twilio_service.list_clinic_numbers()
            if not listing["success"]:
                raise CommandError(listing["error"])
            sids = [n["sid"] for n in listing["numbers"] if not n["webhooks_ok"]]
            if not sids:
                self.stdout.write("Every number's webhooks already point at us.")
                return
        failures = []
        for phone_sid in sids:
            result = twilio_service.update_number_webhooks(phone_sid)
            if result["success"]:
                self.stdout.write(f"{result['phone_number']} ({phone_sid}): webhooks set to {result['webhooks']['voice']}, …")
            else:
                failures.append(f"{phone_sid}: {result['error']}")
        if failures:
            raise CommandError("Some webhooks were not updated:\n" + "\n".join(failures))
