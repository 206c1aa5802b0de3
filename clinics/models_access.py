"""The access log: one append-only row per admin page view that showed patients' data
(a patient, an appointment, a message body, a call record), written by
clinics.services.access and read by superusers only (clinics.admin.access).

Append-only is enforced here, under every caller: saving an existing row, deleting one,
and QuerySet.update/delete (which bypass save and delete) raise AccessRecordImmutable.
Nothing here points at another table with a foreign key, so deleting a user, a clinic or
a patient never cascades into (or sets null in) the records of who looked at them.
"""

from typing import Any, NoReturn

from django.db import models


class AccessRecordImmutable(Exception):
    """A change to an access record was asked for: the log is append-only."""

    def __init__(self) -> None:
        super().__init__("The access log is append-only: its records can be neither changed nor deleted.")


class AccessRecordQuerySet(models.QuerySet):
    """Reads and inserts only: the bulk writes Django offers on a queryset refuse."""

    def update(self, **kwargs: Any) -> NoReturn:
        raise AccessRecordImmutable

    def delete(self) -> NoReturn:
        raise AccessRecordImmutable

    def bulk_update(self, objs: Any, fields: Any, batch_size: int | None = None) -> NoReturn:
        raise AccessRecordImmutable

    def update_or_create(self, defaults: Any = None, create_defaults: Any = None, **kwargs: Any) -> NoReturn:
        raise AccessRecordImmutable


class AccessView(models.TextChoices):
    LIST = "list", "List page"
    DETAIL = "detail", "Detail page"
    SECTION = "section", "Section of another page"
    EXPORT = "export", "Download"


class AccessRecord(models.Model):
    """Who looked at which patients' data, when, from where."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    # The user by id and name, not a foreign key: the record outlives the account.
    user_id = models.PositiveIntegerField(null=True, blank=True, db_index=True)
    username = models.CharField(max_length=150)
    # What: the model ("telephony.messagelog"), the rows (primary keys) and the fields shown.
    model = models.CharField(max_length=100, db_index=True)
    object_ids = models.JSONField(default=list)
    fields = models.JSONField(default=list)
    view = models.CharField(max_length=8, choices=AccessView.choices)
    # From where: the client's address and the page.
    ip = models.GenericIPAddressField(null=True, blank=True)
    path = models.CharField(max_length=500)

    objects = AccessRecordQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        # No permissions at all: nobody may add, change or delete a record, and only
        # superusers read them (clinics.admin.access), so no group can be given that by mistake.
        default_permissions = ()

    def __str__(self) -> str:
        return f"{self.username} viewed {self.model} {self.object_ids} at {self.at:%Y-%m-%d %H:%M:%S}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AccessRecordImmutable
        # Always an INSERT: a new object given an existing row's id fails instead of overwriting it.
        kwargs.update(force_insert=True, force_update=False)
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AccessRecordImmutable
