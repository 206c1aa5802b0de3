"""The Onboarding staff group also gets clinics.simulate_test_traffic (the sandbox's
"Simulate test call / SMS" button; README "Staff permissions").

As in 0004_onboarding_staff_group, the permission is created here first: on a fresh
database post_migrate has not run yet (Django ticket #23422).
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUP = "Onboarding staff"
PERMISSION = ("clinics", "simulate_test_traffic")


def permission_add(apps, schema_editor):
    app_config = apps.get_app_config("clinics")
    app_config.models_module = True  # historical app configs have none; create_permissions skips those
    create_permissions(app_config, apps=apps, verbosity=0, using=schema_editor.connection.alias)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.using(schema_editor.connection.alias).get_or_create(name=GROUP)
    app_label, codename = PERMISSION
    group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))


def permission_remove(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    app_label, codename = PERMISSION
    for group in Group.objects.filter(name=GROUP):
        group.permissions.remove(*Permission.objects.filter(content_type__app_label=app_label, codename=codename))


class Migration(migrations.Migration):
    dependencies = [
        ("clinics", "0007_simulate_test_traffic_permission"),
        ("telephony", "0007_calllog_answer_and_stream"),
    ]

    operations = [migrations.RunPython(permission_add, permission_remove)]
