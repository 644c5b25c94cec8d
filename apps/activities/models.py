from __future__ import annotations

import uuid
from typing import Any

from django.db import models
from django.db.models import Q
from psycopg.types.json import Json
from uuid_utils.compat import uuid7

from apps.core import fastjson
from apps.datamarts.models import Datamart
from apps.userpoints.models import UserPoint


class Source(models.TextChoices):
    ACTIVITY = "ACTIVITY"
    API = "API"
    SEGMENT = "SEGMENT"
    BRAZE = "BRAZE"
    THRIVESTACK = "THRIVESTACK"
    CONSOLE = "CONSOLE"
    MERGE = "MERGE"


class InboxStatus(models.TextChoices):
    PENDING = "PENDING"
    PROCESSED = "PROCESSED"
    FAILED = "FAILED"


class JsonTextField(models.JSONField):
    """A JSON document that PostgreSQL keeps as `json` (the text, checked to be JSON) instead of `jsonb` (parsed into
    its binary form on every write): the inbox writes each payload once and reads it whole, as text, in the drain,
    and never queries inside it. Converting 100 payloads of ~1 KB into jsonb took 1.2 ms of the database's CPU per
    Segment batch (2.7 against 1.5 ms for the same INSERT into `json`). Other databases: as JSONField.

    A `json` column has no equality operator: the inbox is never compared, grouped or DISTINCTed by its payload.
    """

    def db_type(self, connection: Any) -> str | None:
        return "json" if connection.vendor == "postgresql" else super().db_type(connection)

    def get_db_prep_value(self, value: Any, connection: Any, prepared: bool = False) -> Any:
        if connection.vendor != "postgresql":
            return super().get_db_prep_value(value, connection, prepared)
        if not prepared:
            value = self.get_prep_value(value)
        return Json(value, dumps=fastjson.dumps)

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if value is not None and not isinstance(value, str):
            return value  # psycopg parses a `json` column itself
        return super().from_db_value(value, expression, connection)


class InboxPayload(models.Model):
    """An accepted payload in canonical form, committed before the route answers (the durable inbox)."""

    # Time-ordered (UUID version 7): new ids go to the right-hand end of the primary key's index (inbox.UUID7_SQL).
    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    # Every index and constraint here is paid by each accepted payload, the hot path (bench/ingest): no database
    # foreign key (its check ran once per row at commit; the datamart comes from the authenticated key, and deleting
    # a datamart deletes its payloads through the ORM's cascade), and no index of its own (inbox_datamart_received
    # starts with it).
    datamart = models.ForeignKey(Datamart, on_delete=models.CASCADE, db_constraint=False, db_index=False)
    source = models.CharField(max_length=16, choices=Source.choices)
    unique_key = models.CharField("dedupe key", max_length=255, null=True, blank=True)
    payload = JsonTextField()
    received_at = models.DateTimeField(
        "received",
    )
    status = models.CharField(max_length=16, choices=InboxStatus.choices, default=InboxStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField("next attempt", null=True, blank=True)
    last_error = models.TextField("last error", blank=True, default="")
    processed_at = models.DateTimeField("processed", null=True, blank=True)
    # Set when the payload is processed; indexed only then (inbox_user_point), so accepting writes no entry for it.
    user_point_id = models.UUIDField("user point", null=True, blank=True)

    class Meta:
        verbose_name = "inbox payload"
        # No unique constraint on (datamart, unique_key): InboxKey holds the dedupe key (the inbox is partitioned on
        # PostgreSQL, where a unique index could only be one per partition, i.e. per month).
        indexes = [
            models.Index(fields=["received_at"], condition=Q(status="PENDING"), name="inbox_pending"),
            models.Index(fields=["status", "received_at"], name="inbox_status_received"),
            # The console lists a datamart's payloads newest first.
            models.Index(fields=["datamart", "-received_at"], name="inbox_datamart_received"),
            # Erasure and the console find a point's payloads.
            models.Index(fields=["user_point_id"], condition=Q(user_point_id__isnull=False), name="inbox_user_point"),
        ]

    def __str__(self) -> str:
        return f"{self.source} payload {self.id} ({self.status})"


class InboxKey(models.Model):
    """The dedupe key of an accepted payload (`$unique_key`, Segment "segment:<messageId>") and the id of the first
    payload that came with it: `$unique_key` / `messageId` idempotency, held by the database across web processes.

    A table of its own, unpartitioned, because the inbox is partitioned by month on PostgreSQL and a unique index
    there holds within one partition only: a retry across the first of a month was stored twice. inbox.py writes
    the key and the payload in one statement (one transaction); a payload whose key is already here is not stored.
    The retention deletes a key with its payload (`received_at` is the payload's); erasure keeps it (docs/
    partitioning.md). It has no other use: the console does not show it.
    """

    # Its primary key is the dedupe key: one index to write per accepted payload, and ON CONFLICT's arbiter.
    pk = models.CompositePrimaryKey("datamart_id", "unique_key")
    # No database constraint: the payload's row, inserted in the same statement, checks the datamart already.
    # The ORM cascades a datamart's deletion.
    datamart = models.ForeignKey(Datamart, on_delete=models.CASCADE, db_constraint=False, db_index=False)
    unique_key = models.CharField("dedupe key", max_length=255)
    # No foreign key: the inbox is partitioned (a reference would need (id, received_at)), and a key outlives an
    # erased payload.
    payload_id = models.UUIDField("first payload")
    received_at = models.DateTimeField("received")

    class Meta:
        indexes = [
            # The retention deletes a datamart's keys older than its cut-off.
            models.Index(fields=["datamart", "received_at"], name="inboxkey_datamart_received"),
        ]

    def __str__(self) -> str:
        return f"key {self.unique_key} of payload {self.payload_id}"


class Activity(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # No single-column indexes: the (datamart, ...) and (user_point, ts) indexes below lead with these columns.
    # Each index is one more probe to plan in every monthly partition and one more to write per activity.
    datamart = models.ForeignKey(Datamart, on_delete=models.CASCADE, db_index=False)
    user_point = models.ForeignKey(UserPoint, on_delete=models.CASCADE, related_name="activities", db_index=False)
    type = models.CharField(max_length=64)
    ts = models.BigIntegerField("event time", help_text="Epoch milliseconds.")
    source = models.CharField(max_length=16, choices=Source.choices)
    document = models.JSONField(help_text="The activity with its events, as received.")
    created_at = models.DateTimeField(
        "stored",
    )

    class Meta:
        verbose_name_plural = "activities"
        indexes = [
            models.Index(fields=["user_point", "-ts"], name="activity_point_ts"),
            models.Index(fields=["datamart", "created_at"], name="activity_datamart_created"),
            # The console lists, filters and charts a datamart's activities by event time.
            models.Index(fields=["datamart", "-ts"], name="activity_datamart_ts"),
            # A superuser's activity list spans every datamart, newest first (the event-name filter reads it too):
            # without it, PostgreSQL sorted the whole table (10,000,000 rows: 2 s, bench/scale.py).
            models.Index(fields=["-ts", "-id"], name="activity_ts"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.id}"


class ProcessingError(models.Model):
    """A part of a payload that could not be applied (an invalid choice event, a failed attempt)."""

    datamart = models.ForeignKey(Datamart, on_delete=models.CASCADE)
    # No database constraint: the inbox is partitioned on PostgreSQL (migration 0005); the ORM cascades deletes.
    payload = models.ForeignKey(InboxPayload, on_delete=models.CASCADE, related_name="errors", db_constraint=False)
    user_point = models.ForeignKey(UserPoint, on_delete=models.CASCADE, null=True, blank=True)
    message = models.TextField()
    created_at = models.DateTimeField("stored", auto_now_add=True)

    def __str__(self) -> str:
        return f"error on payload {self.payload_id}: {self.message[:60]}"
