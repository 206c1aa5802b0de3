"""Database helpers for the webhooks' hot path, where every round trip counts."""

from collections.abc import Callable

from django.db import IntegrityError, connection, transaction


def insert_or_ignore(create: Callable[[], object]) -> bool:
    """Run one INSERT; False if it hit a unique constraint (a duplicate delivery).

    In autocommit a failed INSERT spoils nothing, so it runs bare: one round trip.
    Inside a transaction (a caller's atomic block) a savepoint keeps it usable.
    """
    try:
        if connection.in_atomic_block:
            with transaction.atomic():
                create()
        else:
            create()
    except IntegrityError:
        return False
    return True


def forward_only_write(newer, *, update: dict, create: Callable[[], object]) -> None:
    """UPDATE the row if the new status is newer; INSERT it if there is no row yet.

    One UPDATE in the usual case (the row exists). If another delivery inserts the row
    between our UPDATE and INSERT, the INSERT fails on the unique SID and the UPDATE is
    tried once more, so no status is lost.
    """
    if newer.update(**update):
        return
    if not insert_or_ignore(create):
        newer.update(**update)
