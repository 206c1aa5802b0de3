import re

from django.core.management.base import BaseCommand, CommandError

from clinics import services
from clinics.models import NumberState
from telephony import twilio_service

from ._base import clinic_or_error, outcome_or_error


class Command(BaseCommand):
    help = "Release a clinic's number (or any number on the account by SID). Irreversible: needs --yes."

    def add_arguments(self, parser) -> None:
        target = parser.add_mutually_exclusive_group(required=True)
        target.add_argument("--clinic", type=int, help="release the number this clinic holds")
        target.add_argument("--sid", help="release this number (PN…), e.g. an orphan no clinic holds")
        parser.add_argument("--yes", action="store_true", help="confirm: the number may be sold to someone else")

    def handle(self, *args, clinic: int | None, sid: str | None, yes: bool, **options) -> None:
        if sid is not None and not re.fullmatch(r"PN[0-9a-fA-F]{32}", sid):
            raise CommandError(f"{sid[:40]!r} is not a phone number SID (PN followed by 32 hex digits).")
        if not yes:
            raise CommandError("Releasing a number cannot be undone; run again with --yes to confirm.")
        if clinic is not None:
            record = clinic_or_error(clinic)
            try:
                services.clinic_number_release_request(clinic_id=record.id)
            except services.ClinicNumberError as exc:
                raise CommandError(str(exc)) from exc
            self.stdout.write(self.style.SUCCESS(outcome_or_error(record, done_state=NumberState.RELEASED)))
            return
        result = twilio_service.release_number(sid)
        if not result["success"]:
            raise CommandError(result["error"])
        note = " (Twilio no longer had it)" if result["already_released"] else ""
        self.stdout.write(self.style.SUCCESS(f"Released {sid}{note}."))
