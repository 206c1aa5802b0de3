"""What the data migrations that give groups permissions share (the migration loader skips
modules named with a leading underscore, so this is no migration)."""

from django.contrib.auth.management import create_permissions


def permissions_create(apps, schema_editor, labels=("clinics", "telephony")):
    """Create the apps' permissions now, with the historical models.

    Permissions are normally created by the post_migrate signal, after *all* migrations ran,
    so on a fresh database they do not exist yet when a data migration runs (Django ticket
    #23422). create_permissions() skips what exists, so post_migrate stays harmless.
    """
    for label in labels:
        app_config = apps.get_app_config(label)
        app_config.models_module = True  # historical app configs have none; create_permissions skips those
        create_permissions(app_config, apps=apps, verbosity=0, using=schema_editor.connection.alias)
        app_config.models_module = None
