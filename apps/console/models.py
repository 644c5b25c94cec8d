from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models

from apps.choices.models import AppendOnlyError
from apps.datamarts.models import Datamart


class DatamartAccess(models.Model):
    """A console user may see this datamart. A staff user with none sees nothing (tenancy fails closed)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="datamart_accesses")
    datamart = models.ForeignKey(Datamart, on_delete=models.CASCADE, related_name="console_accesses")

    class Meta:
        verbose_name = "datamart access"
        verbose_name_plural = "datamart accesses"
        constraints = [models.UniqueConstraint(fields=["user", "datamart"], name="console_access_unique")]
        # The console's own rights, beyond the model permissions of the other apps; the roles grant them.
        permissions = [
            ("view_email", "Can see e-mail addresses unmasked"),
            ("export_userpoint", "Can export a user point (spec 1.7)"),
            ("erase_userpoint", "Can erase a user point (spec 1.7)"),
            ("view_consent_report", "Can see consent counts per processing and export them as CSV"),
            ("record_choice", "Can record a consent choice given to the privacy officer (source CONSOLE)"),
        ]

    def __str__(self) -> str:
        return f"{self.user} → datamart {self.datamart_id}"


class AccessEvent(models.TextChoices):
    VIEW_POINT = "VIEW_POINT", "opened a user point"
    VIEW_RECORD = "VIEW_RECORD", "opened a record of a user point"
    SEARCH = "SEARCH", "searched"
    EXPORT = "EXPORT", "exported a user point"
    ERASURE = "ERASURE", "erased a user point"
    RECORD_CHOICE = "RECORD_CHOICE", "recorded a consent choice"


class AppendOnlyQuerySet(models.QuerySet["AccessLogEntry"]):
    def update(self, **kwargs: Any) -> int:
        raise AppendOnlyError("access-log entries cannot be changed")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("access-log entries cannot be deleted")


class AccessLogEntry(models.Model):
    """Who looked at whose personal data, and what they did with it (spec 8; GDPR art. 5(2), accountability).
    Append-only: the model and its querysets refuse changes and deletions, and on PostgreSQL a trigger refuses
    them in the database itself. No foreign key to the user: the log outlives the account it names."""

    at = models.DateTimeField("time", db_index=True)
    user_id = models.IntegerField(null=True)
    username = models.CharField(max_length=150)
    # Null for a search by a superuser, which covers every datamart.
    datamart = models.ForeignKey(Datamart, on_delete=models.PROTECT, null=True, related_name="+")
    event = models.CharField(max_length=16, choices=AccessEvent.choices)
    user_point_id = models.UUIDField("user point", null=True, blank=True, db_index=True)
    query = models.CharField(max_length=500, blank=True, default="", help_text="The search term, or the record opened.")
    ip = models.GenericIPAddressField("IP address", null=True, blank=True)
    path = models.CharField(max_length=500, blank=True, default="")

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        verbose_name = "access-log entry"
        verbose_name_plural = "access log"
        indexes = [models.Index(fields=["datamart", "at"], name="accesslog_datamart_at")]

    def __str__(self) -> str:
        return f"access {self.pk}: {self.username} {self.event}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise AppendOnlyError("access-log entries cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise AppendOnlyError("access-log entries cannot be deleted")
