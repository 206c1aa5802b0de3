"""Patients' data leaves the "Onboarding staff" group for a new "Clinic support" group.

Onboarding a clinic needs no patient's name, appointment, text or caller's number, so the
onboarding group loses every permission on patients, appointments, message logs and call
logs (reminders included). "Clinic support" may view those four and the clinics they
belong to, send a reminder, mark a patient's text read and download a departed clinic's
patients' data; every page that shows patients' data writes an access record
(docs/operations.md, "Patients' data: who sees it").

As in 0004_onboarding_staff_group, the permissions are created here first: on a fresh
database post_migrate has not run yet (Django ticket #23422).
"""

import importlib

from django.db import migrations

from telephony.migrations._permissions import permissions_create

# What the onboarding group was made with (those of PATIENT_DATA are restored by the reverse).
ONBOARDING_STAFF_MADE_WITH = importlib.import_module("telephony.migrations.0004_onboarding_staff_group").PERMISSIONS

ONBOARDING_STAFF = "Onboarding staff"
CLINIC_SUPPORT = "Clinic support"
# The models holding patients' data, by app label.
PATIENT_DATA = (("clinics", "patient"), ("clinics", "appointment"), ("telephony", "messagelog"), ("telephony", "calllog"))
CLINIC_SUPPORT_PERMISSIONS = (
    "clinics.view_clinic",
    "clinics.view_patient",
    "clinics.view_appointment",
    "clinics.send_appointment_reminder",
    "clinics.export_patient_data",
    "telephony.view_messagelog",
    "telephony.change_messagelog",
    "telephony.view_calllog",
)


def _permissions(apps, names):
    Permission = apps.get_model("auth", "Permission")
    # .get(): a renamed permission must stop the migration, not silently shrink a group.
    return [Permission.objects.get(content_type__app_label=name.split(".")[0], codename=name.split(".")[1]) for name in names]


def groups_split(apps, schema_editor):
    permissions_create(apps, schema_editor)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    patient_data = Permission.objects.none()
    for app_label, model in PATIENT_DATA:
        patient_data |= Permission.objects.filter(content_type__app_label=app_label, content_type__model=model)
    for group in Group.objects.filter(name=ONBOARDING_STAFF):
        group.permissions.remove(*patient_data)
    support, _ = Group.objects.get_or_create(name=CLINIC_SUPPORT)
    support.permissions.add(*_permissions(apps, CLINIC_SUPPORT_PERMISSIONS))


def groups_unsplit(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.filter(name=CLINIC_SUPPORT).delete()
    held = [
        p
        for p in _permissions(apps, ONBOARDING_STAFF_MADE_WITH)
        if (p.content_type.app_label, p.content_type.model) in PATIENT_DATA
    ]
    for group in Group.objects.filter(name=ONBOARDING_STAFF):
        group.permissions.add(*held)


class Migration(migrations.Migration):
    dependencies = [
        ("clinics", "0033_access_log"),
        ("telephony", "0014_messagelog_body_reply_sealed"),
    ]

    operations = [migrations.RunPython(groups_split, groups_unsplit)]
