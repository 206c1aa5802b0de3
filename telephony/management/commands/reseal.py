"""manage.py reseal: seal every sealed value again under the newest key (key rotation).

Each sealed column (clinics.sealed.sealed_columns(): the EINs, the subaccounts' auth
tokens, patients' texts and our replies) is rewritten in batches by id, each batch
committed on its own; a value already under the newest key is left as it is, so an
interrupted run is continued by running it again, and a finished one changes nothing.
Then the texts waiting in the fallback spool, and the fallbacks' copy of the subaccount
tokens is rebuilt from the resealed ones. Rows no configured key opens are reported
(by id: no patient data) and left as they are.
"""

from __future__ import annotations

import functools

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from clinics.sealed import RewriteCount, SealedColumn, sealed_column_rewrite, sealed_columns, secret_reseal
from telephony import fallback_store
from telephony.fallback_store import FallbackStoreError
from telephony.webhooks.signatures import account_tokens_refresh


class Command(BaseCommand):
    help = (
        "Seal every sealed value (EINs, subaccount tokens, message bodies and replies, spooled texts) again under the "
        "first of FIELD_ENCRYPTION_KEYS, in batches. Run it again to continue an interrupted run; once it reports "
        "nothing left under an older key, that key may be dropped."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--batch-size", type=int, default=500, help="Rows per batch (each committed on its own).")
        parser.add_argument("--dry-run", action="store_true", help="Count what would be sealed again; change nothing.")

    def handle(self, *args, batch_size: int, dry_run: bool, **options) -> None:
        if batch_size < 1:
            raise CommandError("--batch-size must be 1 or more.")
        verb = "would be sealed again" if dry_run else "sealed again"
        left_unopenable = 0
        for column in sealed_columns():
            try:
                count = sealed_column_rewrite(
                    column.table,
                    column.column,
                    secret_reseal,
                    batch_size=batch_size,
                    dry_run=dry_run,
                    progress=functools.partial(self._progress, column),
                )
            except DatabaseError as exc:
                raise CommandError(f"{column.label}: stopped ({exc}); what was done is kept, run reseal again.") from exc
            left_unopenable += count.unopenable
            self.stdout.write(f"{column.label}: {count.changed} {verb}, {count.unchanged} already under the newest key.")
            if count.unopenable:
                ids = ", ".join(str(pk) for pk in count.unopenable_ids)
                more = "" if count.unopenable <= len(count.unopenable_ids) else ", ..."
                self.stdout.write(
                    self.style.WARNING(
                        f"{column.label}: skipped {count.unopenable} row(s) that no configured key opens (ids {ids}{more})."
                    )
                )
        if not dry_run:
            left_unopenable += self._spool_and_copy()
        if left_unopenable:
            self.stdout.write(
                self.style.WARNING(
                    "Values that no configured key opens stay as they are: put back the key they were sealed with "
                    "(after the newest) and run reseal again, or accept that they cannot be read."
                )
            )
        elif not dry_run:
            self.stdout.write(self.style.SUCCESS("Everything is sealed under the newest key: older keys may be dropped."))

    def _progress(self, column: SealedColumn, count: RewriteCount) -> None:
        self.stdout.write(f"  {column.label}: up to id {count.last_id}, {count.changed} sealed again so far")

    def _spool_and_copy(self) -> int:
        """Reseal the fallback spool and rebuild the fallbacks' token copy; texts left unopenable."""
        try:
            spool = fallback_store.sms_spool_reseal()
            account_tokens_refresh()
        except (*fallback_store.REDIS_ERRORS, FallbackStoreError, DatabaseError) as exc:
            raise CommandError(f"The fallback store could not be resealed ({exc}); run reseal again.") from exc
        self.stdout.write(f"Fallback spool: {spool.resealed} text(s) sealed again, {spool.current} already under the newest key.")
        if spool.unopenable:
            self.stdout.write(
                self.style.WARNING(
                    f"Fallback spool: {spool.unopenable} text(s) that no configured key opens (set aside at replay)."
                )
            )
        return spool.unopenable
