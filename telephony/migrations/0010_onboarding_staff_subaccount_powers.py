"""The Onboarding staff group also gets clinics.suspend_subaccount,
clinics.close_subaccount and clinics.move_to_subaccount (README "Staff permissions", "Suspend, reactivate, close").

As in 0008_onboarding_staff_simulate_test_traffic, the permissions are created here
first: on a fresh database post_migrate has not run yet (Django ticket #23422).
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUP = "Onboarding staff"
PERMISSIONS = (("clinics", "suspend_subaccount"), ("clinics", "close_subaccount"), ("clinics", "move_to_subaccount"))


def permissions_add(apps, schema_editor):
    app_config = apps.get_app_config("clinics")
    app_config.models_module = True  # historical app configs have none; create_permissions skips those
    create_permissions(app_config, apps=apps, verbosity=0, using=schema_editor.connection.alias)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.using(schema_editor.connection.alias).get_or_create(name=GROUP)
    for app_label, codename in PERMISSIONS:
        group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))


def permissions_remove(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for group in Group.objects.filter(name=GROUP):
        for app_label, codename in PERMISSIONS:
            group.permissions.remove(*Permission.objects.filter(content_type__app_label=app_label, codename=codename))


class Migration(migrations.Migration):
    dependencies = [
        ("clinics", "0018_clinic_number_move"),
        ("telephony", "0009_calllog_column_defaults"),
    ]

    operations = [migrations.RunPython(permissions_add, permissions_remove)]
