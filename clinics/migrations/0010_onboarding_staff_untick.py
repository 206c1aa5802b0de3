"""Onboarding staff may untick a checklist step (with a reason kept in the number history)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUP = "Onboarding staff"
PERMISSION = ("clinics", "untick_checklist_step")


def permission_grant(apps, schema_editor):
    # Permissions are made by post_migrate after all migrations; make them now (see telephony 0004).
    app_config = apps.get_app_config("clinics")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0, using=schema_editor.connection.alias)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.using(schema_editor.connection.alias).get_or_create(name=GROUP)
    group.permissions.add(Permission.objects.get(content_type__app_label=PERMISSION[0], codename=PERMISSION[1]))


def permission_revoke(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    group = apps.get_model("auth", "Group").objects.filter(name=GROUP).first()
    if group is not None:
        group.permissions.remove(*Permission.objects.filter(content_type__app_label=PERMISSION[0], codename=PERMISSION[1]))


class Migration(migrations.Migration):
    dependencies = [
        ("clinics", "0009_clinic_time_zone_checklist_runs"),
        ("telephony", "0004_onboarding_staff_group"),
    ]

    operations = [migrations.RunPython(permission_grant, permission_revoke)]
