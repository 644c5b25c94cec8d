from __future__ import annotations

import uuid

from django.db import models

from apps.datamarts.models import Compartment, Datamart
from apps.userpoints.identifiers import IDENTIFIER_TYPES


class UserPoint(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    datamart = models.ForeignKey(Datamart, on_delete=models.CASCADE, related_name="user_points")
    creation_ts = models.DateTimeField("created", db_index=True)
    is_hyper = models.BooleanField(
        "hyper point", default=False, help_text="Refused a link that would make it a hyper point."
    )

    class Meta:
        indexes = [models.Index(fields=["datamart", "creation_ts"])]

    def __str__(self) -> str:
        return str(self.id)

    @property
    def flags(self) -> list[str]:
        return ["HYPER"] if self.is_hyper else []


class UserIdentifier(models.Model):
    """One identifier of a user point. The unique constraint is what keeps an identifier on one point only."""

    datamart = models.ForeignKey(Datamart, on_delete=models.CASCADE)
    user_point = models.ForeignKey(UserPoint, on_delete=models.CASCADE, related_name="identifiers")
    type = models.CharField(max_length=16, choices=[(t, t) for t in IDENTIFIER_TYPES])
    key = models.CharField(max_length=512)
    compartment = models.ForeignKey(Compartment, on_delete=models.CASCADE, null=True, blank=True)
    user_account_id = models.CharField("user account id", max_length=255, null=True, blank=True)
    email_hash = models.CharField("e-mail hash", max_length=128, null=True, blank=True, db_index=True)
    email = models.CharField("e-mail address", max_length=320, null=True, blank=True)
    user_agent_id = models.CharField("user agent id", max_length=255, null=True, blank=True)
    creation_ts = models.DateTimeField(
        "created",
    )
    last_activity_ts = models.DateTimeField("last activity", null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["datamart", "key", "type"], name="identifier_unique_in_datamart"),
        ]

    def __str__(self) -> str:
        # Shown in page titles and breadcrumbs to every console role: no key (an account id may be an address).
        return f"{self.type} identifier {self.pk}"


class UserPointMerge(models.Model):
    """A merge: `merged_user_point_id` was folded into `survivor`, and keeps resolving to it."""

    datamart = models.ForeignKey(Datamart, on_delete=models.CASCADE)
    survivor = models.ForeignKey(UserPoint, on_delete=models.CASCADE, related_name="merges")
    merged_user_point_id = models.UUIDField("merged user point", db_index=True)
    merged_creation_ts = models.DateTimeField(
        "merged point created",
    )
    merged_at = models.DateTimeField(
        "merged",
    )
    trigger_source = models.CharField("triggered by", max_length=32)
    trigger_ref = models.CharField("trigger", max_length=255, blank=True, default="")

    def __str__(self) -> str:
        return f"{self.merged_user_point_id} → {self.survivor_id}"


class HyperPointRefusal(models.Model):
    """A link the hyper-point guard refused, kept for review in the console."""

    datamart = models.ForeignKey(Datamart, on_delete=models.CASCADE)
    user_point = models.ForeignKey(UserPoint, on_delete=models.CASCADE, related_name="hyper_refusals")
    refused_identifiers = models.JSONField(
        "refused identifiers",
    )
    other_user_point_ids = models.JSONField("other user points", default=list)
    reason = models.CharField(max_length=255)
    trigger_ref = models.CharField("trigger", max_length=255, blank=True, default="")
    created_at = models.DateTimeField("recorded", auto_now_add=True)

    def __str__(self) -> str:
        return f"refused link on {self.user_point_id}: {self.reason}"


class ErasureRecord(models.Model):
    """Proof that a user point was erased (spec 1.7). Holds no personal data: no identifier, no property, only
    the pseudonymous point id, who asked, when, and how many rows of each kind were deleted."""

    datamart = models.ForeignKey(Datamart, on_delete=models.CASCADE, related_name="erasures")
    user_point_id = models.UUIDField("user point", db_index=True)
    erased_at = models.DateTimeField(
        "erased",
    )
    actor = models.CharField(
        "erased by", max_length=255, help_text='Who asked: "api-key:<name>" or "console:<username>".'
    )
    counts = models.JSONField("rows deleted", default=dict, help_text="Rows deleted, by kind.")

    class Meta:
        indexes = [models.Index(fields=["datamart", "erased_at"], name="erasure_datamart_erased_at")]

    def __str__(self) -> str:
        return f"erasure of {self.user_point_id} by {self.actor}"
