"""What the audit and the doctor report: a Finding says in plain words what is wrong and how
to fix it (and whether a repair can do it for staff); an AuditResult is one audit's.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

ERROR, WARNING = "error", "warning"


ERROR, WARNING = "error", "warning"


FIX_WEBHOOKS, FIX_ADOPT = "webhooks", "adopt"


FIX_WEBHOOKS, FIX_ADOPT = "webhooks", "adopt"


@dataclass
class Finding:
    """One problem, with what a person (or --fix / --adopt) should do about it."""

    code: str
    severity: str
    message: str
    fix: str
    phone_number: str = ""
    sid: str = ""
    clinic_id: int | None = None
    clinic_name: str = ""
    fixable: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class AuditResult:
    """The findings of one audit, and how much it looked at."""

    success: bool
    findings: list[Finding]
    numbers_checked: int = 0
    clinics_checked: int = 0
    error: str = ""
    # The numbers with nothing to report: held by a clinic, as Twilio and we agree.
    all_good: list[dict[str, Any]] = field(default_factory=list)
    # How many numbers each account holds (the main account and every open subaccount).
    numbers_per_account: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "success": self.success,
            "error": self.error or None,
            "numbers_checked": self.numbers_checked,
            "clinics_checked": self.clinics_checked,
            "numbers_per_account": self.numbers_per_account,
            "findings": [f.as_dict() for f in self.findings],
            "all_good": self.all_good,
        }
