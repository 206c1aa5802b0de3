from django.core.management.base import BaseCommand, CommandError

from clinics import services
from clinics.models import NumberState
from telephony.management.commands._base import clinic_or_error, outcome_or_error
from telephony.numbers import provisioning


class Command(BaseCommand):
    help = "Buy a voice+SMS number in an area code for a clinic and point its webhooks at us."

    def add_arguments(self, parser) -> None:
        parser.add_argument("clinic_id", type=int)
        parser.add_argument("area_code", help="three digits, e.g. 512")
        parser.add_argument("--friendly-name", default="", help="label on the Twilio number (default: clinic name)")

    def handle(self, *args, clinic_id: int, area_code: str, friendly_name: str, **options) -> None:
        clinic = clinic_or_error(clinic_id)
        try:
            provisioning.clinic_number_provision_request(clinic_id=clinic.id, area_code=area_code, friendly_name=friendly_name)
        except services.ClinicNumberError as exc:
            raise CommandError(str(exc)) from exc
        line = outcome_or_error(clinic, done_state=NumberState.ACTIVE)
        if clinic.twilio_number:
            line += f" {clinic.twilio_number} ({clinic.twilio_number_sid})"
        self.stdout.write(self.style.SUCCESS(line))
