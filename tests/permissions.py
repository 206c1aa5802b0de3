"""The Onboarding staff and Clinic support groups in tests, as their data migrations make
them; staff with given permissions."""

import functools
import importlib
from types import SimpleNamespace

from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.state import StateApps
from django.test import Client

MIGRATION = ("telephony", "0004_onboarding_staff_group")
# Later migrations that add powers to the group, each with its function (run in this order).
GRANTS = [
    (("telephony", "0008_onboarding_staff_simulate_test_traffic"), "permission_add"),
    (("clinics", "0010_onboarding_staff_untick"), "permission_grant"),
    (("clinics", "0016_onboarding_staff_a2p_permissions"), "permissions_add"),
    (("telephony", "0010_onboarding_staff_subaccount_powers"), "permissions_add"),
    (("clinics", "0029_onboarding_staff_keep_existing_number"), "permissions_add"),
    # Takes patients' data away from the group (and makes the Clinic support group).
    (("telephony", "0015_clinic_support_group"), "groups_split"),
]
CLINIC_SUPPORT = ("telephony", "0015_clinic_support_group")


@functools.cache
def _historical_apps(migration: tuple[str, str]) -> StateApps:
    """The models as they were right after `migration`: the migration graph is read once per
    test process, and each migration's models rendered once (they hold no rows)."""
    return _migration_loader().project_state(migration, at_end=True).apps


@functools.cache
def _migration_loader() -> MigrationLoader:
    return MigrationLoader(connection)


def onboarding_staff_group() -> Group:
    """The "Onboarding staff" group; re-made by its own migration code when missing.

    Transactional tests empty every table after each test (data migrations' rows too),
    so the group is re-created by running the migration's function on the historical
    models, exactly as `migrate` ran it: the tests check the migration, not a copy.
    """
    group = Group.objects.filter(name="Onboarding staff").first()
    if group is None:
        module = importlib.import_module(f"{MIGRATION[0]}.migrations.{MIGRATION[1]}")
        # The function only reads schema_editor.connection; a real schema editor cannot be
        # opened inside a test's transaction on SQLite.
        module.group_create(_historical_apps(MIGRATION), SimpleNamespace(connection=connection))
        for migration, function in GRANTS:
            grant = importlib.import_module(f"{migration[0]}.migrations.{migration[1]}")
            getattr(grant, function)(_historical_apps(migration), SimpleNamespace(connection=connection))
        group = Group.objects.get(name="Onboarding staff")
    return group


def clinic_support_group() -> Group:
    """The "Clinic support" group; re-made by its migration's code when missing (as above)."""
    group = Group.objects.filter(name="Clinic support").first()
    if group is None:
        module = importlib.import_module(f"{CLINIC_SUPPORT[0]}.migrations.{CLINIC_SUPPORT[1]}")
        module.groups_split(_historical_apps(CLINIC_SUPPORT), SimpleNamespace(connection=connection))
        group = Group.objects.get(name="Clinic support")
    return group


def staff_client(django_user_model, username, permissions=()):
    """A logged-in test client of a new staff user holding exactly `permissions` ("app.codename")."""
    user = django_user_model.objects.create_user(username=username, password=f"pw-{username}-1234", is_staff=True)
    for name in permissions:
        app_label, codename = name.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    client = Client()
    client.force_login(user)
    return client
