"""The Onboarding staff group in tests, as its data migration makes it."""

import importlib
from types import SimpleNamespace

from django.contrib.auth.models import Group
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

MIGRATION = ("telephony", "0004_onboarding_staff_group")
# Later migrations that add powers to the group, each with its function (run in this order).
GRANTS = [
    (("telephony", "0008_onboarding_staff_simulate_test_traffic"), "permission_add"),
    (("clinics", "0010_onboarding_staff_untick"), "permission_grant"),
    (("clinics", "0016_onboarding_staff_a2p_permissions"), "permissions_add"),
    (("telephony", "0010_onboarding_staff_subaccount_powers"), "permissions_add"),
]


def onboarding_staff_group() -> Group:
    """The "Onboarding staff" group; re-made by its own migration code when missing.

    Transactional tests empty every table after each test (data migrations' rows too),
    so the group is re-created by running the migration's function on the historical
    models, exactly as `migrate` ran it: the tests check the migration, not a copy.
    """
    group = Group.objects.filter(name="Onboarding staff").first()
    if group is None:
        module = importlib.import_module(f"{MIGRATION[0]}.migrations.{MIGRATION[1]}")
        state = MigrationExecutor(connection).loader.project_state(MIGRATION, at_end=True)
        # The function only reads schema_editor.connection; a real schema editor cannot be
        # opened inside a test's transaction on SQLite.
        module.group_create(state.apps, SimpleNamespace(connection=connection))
        for migration, function in GRANTS:
            grant = importlib.import_module(f"{migration[0]}.migrations.{migration[1]}")
            grant_state = MigrationExecutor(connection).loader.project_state(migration, at_end=True)
            getattr(grant, function)(grant_state.apps, SimpleNamespace(connection=connection))
        group = Group.objects.get(name="Onboarding staff")
    return group
