from django.core.management.base import BaseCommand, CommandError

from clinics import services
from clinics.models import NumberState
from telephony import twilio_service
from telephony.management.commands._base import clinic_or_error, outcome_or_error
from telephony.numbers import provisioning, release


class Command(BaseCommand):
    help = "Release a clinic's number (or any number on the account by SID). Irreversible: needs --yes."

    def add_arguments(self, parser) -> None:
        target = parser.add_mutually_exclusive_group(required=True)
        target.add_argument("--clinic", type=int, help="release the number this clinic holds")
        target.add_argument("--sid", help="release this number (PN…), e.g. an orphan no clinic holds")
        parser.add_argument("--yes", action="store_true", help="confirm: the number may be sold to someone else")

    def handle(self, *args, clinic: int | None, sid: str | None, yes: bool, **options) -> None:
        phone_sid = ""
        if sid is not None:
            try:
                phone_sid = provisioning.phone_sid_clean(sid)
            except provisioning.InvalidInput as exc:
                raise CommandError(str(exc)) from exc
        if not yes:
            raise CommandError("Releasing a number cannot be undone; run again with --yes to confirm.")
        if clinic is not None:
            record = clinic_or_error(clinic)
            try:
                release.clinic_number_release_request(clinic_id=record.id)
            except services.ClinicNumberError as exc:
                raise CommandError(str(exc)) from exc
            self.stdout.write(self.style.SUCCESS(outcome_or_error(record, done_state=NumberState.RELEASED)))
            return
        # Through the release workflow: the clinic holding it (if any) goes through
        # releasing -> released with its history, exactly as a clinic release does.
        try:
            released = release.number_release_run(phone_sid=phone_sid)
        except twilio_service.EXPECTED_FAILURES as exc:
            raise CommandError(twilio_service.failure_from(exc)["error"]) from exc
        note = " (Twilio no longer had it)" if released.already_released else ""
        self.stdout.write(self.style.SUCCESS(f"Released {phone_sid}{note}."))
