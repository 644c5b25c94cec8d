from __future__ import annotations

from typing import Any

from django.db import models

from apps.activities.models import Source
from apps.datamarts.models import Datamart, Processing
from apps.userpoints.models import UserPoint


class Choice(models.Model):
    """The current consent of a point for a processing: the write with the latest `$choice_ts` wins."""

    datamart = models.ForeignKey(Datamart, on_delete=models.CASCADE)
    user_point = models.ForeignKey(UserPoint, on_delete=models.CASCADE, related_name="choices")
    processing = models.ForeignKey(Processing, on_delete=models.PROTECT)
    choice_ts = models.BigIntegerField("choice time", help_text="Epoch milliseconds.")
    acceptance_value = models.BooleanField(
        "answer",
    )
    custom_fields = models.JSONField("custom fields", default=dict)
    # Where the write that set the current value came from (ACTIVITY, API, SEGMENT, ..., CONSOLE): the consent
    # report counts choices by it.
    source = models.CharField(max_length=16, choices=Source.choices, blank=True, default="")
    creation_ts = models.DateTimeField(
        "created",
    )
    last_modified_ts = models.DateTimeField(
        "last modified",
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user_point", "processing"], name="choice_unique_per_point")]
        indexes = [models.Index(fields=["processing", "acceptance_value"], name="choice_processing_value")]

    def __str__(self) -> str:
        return f"{self.user_point_id} / processing {self.processing_id}: {self.acceptance_value}"


class AppendOnlyError(Exception):
    pass


class ChoiceChangeLogEntry(models.Model):
    """One choice write (spec 1.6). Append-only: rows are never updated (except moving on a merge) nor deleted
    (except by erasure); PostgreSQL enforces it with a trigger, the model refuses it everywhere."""

    datamart = models.ForeignKey(Datamart, on_delete=models.CASCADE)
    user_point = models.ForeignKey(UserPoint, on_delete=models.CASCADE, related_name="change_log")
    processing = models.ForeignKey(Processing, on_delete=models.PROTECT)
    choice_ts = models.BigIntegerField(
        "choice time",
    )
    acceptance_value = models.BooleanField(
        "answer",
    )
    previous_acceptance_value = models.BooleanField("previous answer", null=True)
    applied = models.BooleanField(
        "applied",
    )
    source = models.CharField(max_length=16, choices=Source.choices)
    source_ref = models.CharField("reference", max_length=255, blank=True, default="")
    custom_fields = models.JSONField("custom fields", default=dict)
    recorded_ts = models.DateTimeField(
        "recorded",
    )

    class Meta:
        verbose_name = "consent change-log entry"
        verbose_name_plural = "consent change log"
        indexes = [
            models.Index(fields=["user_point", "processing", "id"], name="changelog_point_processing"),
            # The console's acceptance-rate chart reads a datamart's recent entries.
            models.Index(fields=["datamart", "recorded_ts"], name="changelog_datamart_recorded"),
        ]

    def __str__(self) -> str:
        return f"change {self.pk}: {self.processing_id} = {self.acceptance_value} ({self.source})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise AppendOnlyError("consent change-log entries cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise AppendOnlyError("consent change-log entries cannot be deleted (only erasure of the user point does)")
