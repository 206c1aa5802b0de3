import json

from django.core.management.base import BaseCommand, CommandError

from telephony.models import LogWriteFailure
from telephony.numbers import audit, doctor, repairs
from telephony.numbers.findings import ERROR, WARNING, AuditResult, Finding

EXIT_OK, EXIT_WARNINGS, EXIT_ERRORS, EXIT_AUDIT_FAILED = 0, 1, 2, 3


class Command(BaseCommand):
    help = (
        "Check the configuration and every number on the Twilio account against the clinics; explain each problem "
        "and its fix. Exit 0: all good; 1: warnings only; 2: errors; 3: the audit itself could not run. "
        "--fix resets drifted webhooks, --adopt adopts orphans that name their clinic. Nothing is released."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--json", action="store_true", dest="as_json", help="machine-readable output")
        parser.add_argument("--fix", action="store_true", help="reset drifted webhooks (safe to repeat)")
        parser.add_argument("--adopt", action="store_true", help="adopt orphan numbers whose name identifies their clinic")

    def handle(self, *args, as_json: bool, fix: bool, adopt: bool, **options) -> None:
        config = doctor.config_check()
        numbers = audit.number_audit()
        changes: list[str] = []
        if numbers.success and (fix or adopt):
            if fix:
                changes += repairs.fix_webhooks(numbers.findings)
            if adopt:
                changes += repairs.adopt_orphans(numbers.findings)
            numbers = audit.number_audit()  # report what is left
        findings = config + numbers.findings + _log_write_findings()
        errors = [f for f in findings if f.severity == ERROR]
        warnings = [f for f in findings if f.severity == WARNING]
        code = EXIT_AUDIT_FAILED if not numbers.success else EXIT_ERRORS if errors else EXIT_WARNINGS if warnings else EXIT_OK
        if as_json:
            self.stdout.write(
                json.dumps(
                    {
                        "ok": code == EXIT_OK,
                        "exit_code": code,
                        "audit_error": numbers.error or None,
                        "numbers_checked": numbers.numbers_checked,
                        "clinics_checked": numbers.clinics_checked,
                        "numbers_per_account": numbers.numbers_per_account,
                        "changes": changes,
                        "findings": [f.as_dict() for f in findings],
                    },
                    indent=2,
                )
            )
        else:
            self._report(numbers, changes, errors, warnings)
        if code != EXIT_OK:
            if as_json:
                raise SystemExit(code)  # the JSON already says everything
            raise CommandError(_summary(code, errors, warnings, numbers.error), returncode=code)

    def _report(self, numbers: AuditResult, changes: list[str], errors: list, warnings: list) -> None:
        out = self.stdout
        if changes:
            out.write(self.style.MIGRATE_HEADING("Changed"))
            for line in changes:
                out.write(f"  {line}")
        if numbers.success:
            out.write(f"Checked {numbers.numbers_checked} number(s) on the account and {numbers.clinics_checked} clinic(s).")
            if len(numbers.numbers_per_account) > 1:
                accounts = ", ".join(f"{sid}: {count}" for sid, count in numbers.numbers_per_account.items())
                out.write(f"Numbers per account (main first): {accounts}.")
        for title, group, style in (("Errors", errors, self.style.ERROR), ("Warnings", warnings, self.style.WARNING)):
            if not group:
                continue
            out.write(style(f"\n{title} ({len(group)})"))
            for f in group:
                where = " ".join(x for x in (f.phone_number, f"[{f.clinic_name}]" if f.clinic_name else "") if x)
                out.write(f"  - {where + ': ' if where else ''}{f.message}")
                out.write(f"    fix: {f.fix}")
        if not errors and not warnings and numbers.success:
            out.write(self.style.SUCCESS("All good: configuration and numbers match."))


def _log_write_findings() -> list[Finding]:
    """An error per webhook log whose writes failed (counted by telephony.webhooks.hot_path)."""
    return [
        Finding(
            code="log_writes_failed",
            severity=ERROR,
            message=f"{f.count} webhook {f.log} write(s) failed, the last for {f.last_sid} "
            f"at {f.last_failed_at:%Y-%m-%d %H:%M:%S %Z}: {f.last_error}",
            fix="Calls were answered but not logged (status callbacks and SMS got a 500 for Twilio to retry). Find the "
            "cause in the ERROR lines of logger telephony.webhooks.hot_path (often a model changed without its migration: run "
            '`manage.py migrate`); once fixed, clear the count: `manage.py shell -c "from telephony.models import '
            f"LogWriteFailure; LogWriteFailure.objects.filter(log='{f.log}').delete()\"`.",
            details={"log": f.log, "count": f.count, "last_sid": f.last_sid},
        )
        for f in LogWriteFailure.objects.filter(count__gt=0).order_by("log")
    ]


def _summary(code: int, errors: list, warnings: list, audit_error: str) -> str:
    if code == EXIT_AUDIT_FAILED:
        return f"The number audit could not run: {audit_error}"
    return f"{len(errors)} error(s), {len(warnings)} warning(s)."
