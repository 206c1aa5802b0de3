import json

from django.core.management.base import BaseCommand, CommandError

from telephony import twilio_service


class Command(BaseCommand):
    help = "List every number on the Twilio account with its clinic and webhook health."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--json", action="store_true", dest="as_json", help="print JSON instead of a table")

    def handle(self, *args, as_json: bool, **options) -> None:
        result = twilio_service.list_clinic_numbers()
        if not result["success"]:
            raise CommandError(result["error"])
        if as_json:
            self.stdout.write(json.dumps(result["numbers"], indent=2))
            return
        rows = [("NUMBER", "SID", "CLINIC", "WEBHOOKS", "SMS")]
        for n in result["numbers"]:
            clinic = f"{n['clinic_id']} {n['clinic_name']}" if n["clinic_id"] else "(no clinic)"
            rows.append(
                (
                    n["phone_number"],
                    n["sid"],
                    clinic,
                    "ok" if n["webhooks_ok"] else "DRIFTED",
                    "yes" if n["capabilities"]["sms"] else "NO",
                )
            )
        widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
        for row in rows:
            self.stdout.write("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
        self.stdout.write(f"{len(result['numbers'])} number(s).")
