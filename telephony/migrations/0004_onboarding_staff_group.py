"""The "Onboarding staff" group: every power staff need to onboard a clinic, nothing more.

Permissions are normally created by the post_migrate signal, after *all* migrations ran,
so on a fresh database they do not exist yet when this runs (Django ticket #23422):
django.contrib.auth.management.create_permissions() makes them (and their content types)
now, with the historical models; it skips what exists, so post_migrate stays harmless. The list is frozen here on purpose; README "Staff permissions" names it.
"""

from django.db import migrations

from telephony.migrations._permissions import permissions_create

GROUP = "Onboarding staff"
PERMISSIONS = [
    # The clinic and its number.
    "clinics.add_clinic",
    "clinics.change_clinic",
    "clinics.view_clinic",
    "clinics.view_numberevent",
    "clinics.provision_number",
    "clinics.release_number",
    "clinics.update_number_webhooks",
    # Patients, appointments and their reminders.
    "clinics.add_patient",
    "clinics.change_patient",
    "clinics.view_patient",
    "clinics.add_appointment",
    "clinics.change_appointment",
    "clinics.view_appointment",
    "clinics.send_appointment_reminder",
    # The staff inbox and call log (read, mark read).
    "telephony.view_messagelog",
    "telephony.change_messagelog",
    "telephony.view_calllog",
    # The Number audit page.
    "telephony.view_auditrun",
    "telephony.run_number_audit",
    "telephony.adopt_number",
]


def group_create(apps, schema_editor):
    permissions_create(apps, schema_editor)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.using(schema_editor.connection.alias).get_or_create(name=GROUP)
    permissions = []
    for name in PERMISSIONS:
        app_label, codename = name.split(".")
        # .get(): a renamed permission must stop the migration, not silently shrink the group.
        permissions.append(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    group.permissions.add(*permissions)


def group_delete(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("clinics", "0004_staff_permissions"),
        ("telephony", "0003_staff_permissions"),
    ]

    operations = [migrations.RunPython(group_create, group_delete)]
