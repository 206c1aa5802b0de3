"""Issue 23: the "Onboarding staff" group may start a port-in or a hosted SMS order for a
clinic's own number (clinics.keep_existing_number). Same technique as 0016: permissions are
created now (Django ticket #23422), then added by name with .get(), so a renamed permission
stops the migration.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUP = "Onboarding staff"
PERMISSIONS = ["clinics.keep_existing_number"]


def permissions_add(apps, schema_editor):
    app_config = apps.get_app_config("clinics")
    app_config.models_module = True  # historical app configs have none; create_permissions skips those
    create_permissions(app_config, apps=apps, verbosity=0, using=schema_editor.connection.alias)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.using(schema_editor.connection.alias).get_or_create(name=GROUP)
    permissions = []
    for name in PERMISSIONS:
        app_label, codename = name.split(".")
        permissions.append(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    group.permissions.add(*permissions)


def permissions_remove(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    group = Group.objects.filter(name=GROUP).first()
    if group is not None:
        group.permissions.remove(
            *group.permissions.filter(content_type__app_label="clinics", codename__in=[p.split(".")[1] for p in PERMISSIONS])
        )


class Migration(migrations.Migration):
    dependencies = [
        ("clinics", "0028_keep_existing_number_permission"),
        ("telephony", "0004_onboarding_staff_group"),
    ]

    operations = [migrations.RunPython(permissions_add, permissions_remove)]
