"""Issue 24, "An inventory, written down": docs/patient-data.md classifies every text-like
field of every model in the project's apps as PHI, secret or not PHI."""

import re
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.db import models

pytestmark = pytest.mark.no_sandbox  # no Twilio, no database

INVENTORY = Path(settings.BASE_DIR) / "docs" / "patient-data.md"
HEADING = "## Every text field, classified"
CLASSES = ("PHI", "secret", "not PHI")
ROW = re.compile(r"^\| `(?P<field>[\w.]+)` \| (?P<class>[^|]+?) \|")
# Text-like: what can hold a name, a number or a message. EmailField, URLField, SlugField
# and the sealed fields are subclasses of these.
TEXT_FIELDS = (
    models.CharField,
    models.TextField,
    models.JSONField,
    models.BinaryField,
    models.FileField,
    models.FilePathField,
    models.GenericIPAddressField,
)


def project_text_fields() -> set[str]:
    """`app_label.Model.field` of every text-like column of the project's own apps."""
    root = Path(settings.BASE_DIR).resolve()
    fields = set()
    for config in apps.get_app_configs():
        path = Path(config.path).resolve()
        if not path.is_relative_to(root) or ".venv" in path.parts:
            continue
        for model in config.get_models():
            fields |= {f"{model._meta.label}.{f.name}" for f in model._meta.concrete_fields if isinstance(f, TEXT_FIELDS)}
    return fields


def inventory_rows(text: str) -> dict[str, str]:
    """Field -> class, from the table under HEADING."""
    table = text.split(HEADING, 1)[1]
    return {match["field"]: match["class"].strip() for line in table.splitlines() if (match := ROW.match(line))}


def inventory_problems(fields: set[str], rows: dict[str, str]) -> list[str]:
    """One sentence per field the inventory misses, names wrongly, or classifies with no known class."""
    problems = [
        f"{field} is a text field that docs/patient-data.md does not classify: add its row ({' / '.join(CLASSES)})."
        for field in sorted(fields - rows.keys())
    ]
    problems += [
        f"docs/patient-data.md classifies {field}, which is no longer a field: remove or rename its row."
        for field in sorted(rows.keys() - fields)
    ]
    problems += [
        f"docs/patient-data.md classifies {field} as {klass!r}; use one of {', '.join(CLASSES)}."
        for field, klass in sorted(rows.items())
        if klass not in CLASSES
    ]
    return problems


def test_every_text_field_of_every_model_is_classified():
    fields = project_text_fields()
    assert {"telephony.MessageLog.body", "clinics.Patient.phone", "clinics.BusinessProfile.ein"} <= fields

    assert inventory_problems(fields, inventory_rows(INVENTORY.read_text())) == []


def test_the_inventory_names_what_the_issue_calls_phi_and_secret():
    rows = inventory_rows(INVENTORY.read_text())
    for field in ("Patient.name", "Patient.phone", "MessageLog.body", "MessageLog.reply", "CallLog.from_number"):
        assert [klass for name, klass in rows.items() if name.endswith("." + field)] == ["PHI"], field
    assert rows["clinics.BusinessProfile.ein"] == rows["clinics.Clinic.twilio_account_token_sealed"] == "secret"


def test_a_new_field_a_removed_field_and_an_unknown_class_are_named():
    rows = {"clinics.Patient.name": "PHI", "clinics.Patient.nickname": "PHI", "telephony.MessageLog.body": "private"}
    fields = {"clinics.Patient.name", "telephony.MessageLog.body", "telephony.MessageLog.transcript"}

    assert inventory_problems(fields, rows) == [
        "telephony.MessageLog.transcript is a text field that docs/patient-data.md does not classify: add its row "
        "(PHI / secret / not PHI).",
        "docs/patient-data.md classifies clinics.Patient.nickname, which is no longer a field: remove or rename its row.",
        "docs/patient-data.md classifies telephony.MessageLog.body as 'private'; use one of PHI, secret, not PHI.",
    ]
