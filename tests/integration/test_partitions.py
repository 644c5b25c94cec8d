"""Time partitions of activities and the inbox on PostgreSQL (issue 13 point 5, docs/partitioning.md): created ahead by
beat, dropped by retention, and invisible to erasure, merges and inserts at any time."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest
from django.db import connection
from django.utils import timezone

from apps.activities import partitions
from apps.activities.inbox import inbox_accept
from apps.activities.models import Activity, InboxPayload, InboxStatus, ProcessingError, Source
from apps.activities.partition_tasks import partitions_daily
from apps.datamarts.models import Datamart
from apps.userpoints.erasure import user_point_erase
from apps.userpoints.models import UserIdentifier, UserPoint
from tests.factories import datamart_setup

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def _months_back(n: int) -> date:
    month = partitions.month_start(timezone.now().astimezone(UTC).date())
    for _ in range(n):
        month = date(month.year - (month.month == 1), (month.month - 2) % 12 + 1, 1)
    return month


def _at(month: date, day: int = 10) -> datetime:
    return datetime(month.year, month.month, day, 12, tzinfo=UTC)


def _partition_of(model, pk) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT tableoid::regclass::text FROM {model._meta.db_table} WHERE id = %s", [pk])
        return cursor.fetchone()[0]


def _activity(datamart_id: int, point_id, created_at: datetime) -> Activity:
    return Activity.objects.create(
        id=uuid.uuid4(),
        datamart_id=datamart_id,
        user_point_id=point_id,
        type="SITE_VISIT",
        ts=1000,
        source=Source.API,
        document={},
        created_at=created_at,
    )


def _payload(datamart_id: int, received_at: datetime, status: str = InboxStatus.PROCESSED) -> InboxPayload:
    return InboxPayload.objects.create(
        datamart_id=datamart_id, source=Source.API, payload={}, received_at=received_at, status=status
    )


def _point_of(agent: str) -> uuid.UUID:
    return UserIdentifier.objects.get(key=agent).user_point_id


def test_the_beat_task_creates_the_months_ahead_of_both_tables(db):
    later = datetime(2031, 11, 20, tzinfo=UTC)
    result = partitions.partitions_maintain(now=later)
    for spec in partitions.TABLES:
        months = partitions.months_existing(spec)
        for month in (date(2031, 11, 1), date(2031, 12, 1), date(2032, 1, 1), date(2032, 2, 1)):
            assert month in months
            assert partitions.partition_name(spec, month) in result["created"]
    # Run again (beat may), nothing more to do.
    assert partitions.partitions_maintain(now=later)["created"] == []
    # The task beat calls is the same, and the current months exist since the migration.
    assert partitions_daily() == {"created": [], "dropped": [], "deleted": {}}


def test_the_inbox_keeps_its_dedupe_key_in_each_new_partition(db):
    """The key is held by the unpartitioned InboxKey table (test_dedupe_across_months.py): a new partition has no
    unique index of its own, one index write fewer per accepted payload."""
    datamart = datamart_setup().datamart
    month = date(2031, 3, 1)
    partitions.month_create(partitions.INBOX, month)
    first = inbox_accept(datamart_id=datamart.pk, source=Source.API, payload={}, unique_key="message-1")
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE activities_inboxpayload SET received_at = %s WHERE id = %s", [_at(month, 1), first.payload_id]
        )
    assert _partition_of(InboxPayload, first.payload_id) == partitions.partition_name(partitions.INBOX, month)
    again = inbox_accept(datamart_id=datamart.pk, source=Source.API, payload={}, unique_key="message-1")
    assert again.duplicate
    assert again.payload_id == first.payload_id
    assert InboxPayload.objects.filter(unique_key="message-1").count() == 1
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = %s AND indexdef LIKE 'CREATE UNIQUE%%'",
            [partitions.partition_name(partitions.INBOX, month)],
        )
        assert [row[0] for row in cursor.fetchall()] == [f"{partitions.partition_name(partitions.INBOX, month)}_pkey"]


def test_retention_drops_the_partitions_past_every_datamart_and_keeps_newer_data(db):
    strict, lenient = datamart_setup().datamart, datamart_setup().datamart
    Datamart.objects.filter(pk=strict.pk).update(retention_days=30)
    Datamart.objects.filter(pk=lenient.pk).update(retention_days=90)
    old, middle = _months_back(6), _months_back(2)
    for month in (old, middle):
        partitions.month_create(partitions.ACTIVITY, month)
        partitions.month_create(partitions.INBOX, month)
    point_strict = UserPoint.objects.create(datamart=strict, creation_ts=timezone.now())
    point_lenient = UserPoint.objects.create(datamart=lenient, creation_ts=timezone.now())
    gone = [_activity(strict.pk, point_strict.pk, _at(old)), _activity(lenient.pk, point_lenient.pk, _at(old))]
    # Two months back: past the strict datamart's 30 days, within the lenient one's 90.
    middle_strict = _activity(strict.pk, point_strict.pk, _at(middle, 1))
    middle_lenient = _activity(lenient.pk, point_lenient.pk, _at(middle, 1))
    recent = [
        _activity(strict.pk, point_strict.pk, timezone.now()),
        _activity(lenient.pk, point_lenient.pk, timezone.now()),
    ]
    old_payload = _payload(strict.pk, _at(old))
    error = ProcessingError.objects.create(datamart=strict, payload=old_payload, message="kept with its payload")

    result = partitions.partitions_maintain()

    assert partitions.partition_name(partitions.ACTIVITY, old) in result["dropped"]
    assert partitions.partition_name(partitions.INBOX, old) in result["dropped"]
    assert old not in partitions.months_existing(partitions.ACTIVITY)
    assert middle in partitions.months_existing(partitions.ACTIVITY)
    assert not Activity.objects.filter(id__in=[a.id for a in gone]).exists()
    assert not InboxPayload.objects.filter(id=old_payload.id).exists()
    assert not ProcessingError.objects.filter(id=error.id).exists()
    # The strict datamart's rows past its 30 days are deleted; the lenient one's, and everything recent, stay.
    assert not Activity.objects.filter(id=middle_strict.id).exists()
    assert set(Activity.objects.values_list("id", flat=True)) == {middle_lenient.id} | {a.id for a in recent}


def test_a_datamart_kept_forever_keeps_the_partition_and_the_others_lose_their_rows(db):
    strict, forever = datamart_setup().datamart, datamart_setup().datamart
    Datamart.objects.filter(pk=strict.pk).update(retention_days=30)
    old = _months_back(6)
    partitions.month_create(partitions.ACTIVITY, old)
    partitions.month_create(partitions.INBOX, old)
    point_strict = UserPoint.objects.create(datamart=strict, creation_ts=timezone.now())
    point_forever = UserPoint.objects.create(datamart=forever, creation_ts=timezone.now())
    strict_old = _activity(strict.pk, point_strict.pk, _at(old))
    forever_old = _activity(forever.pk, point_forever.pk, _at(old))
    strict_new = _activity(strict.pk, point_strict.pk, timezone.now())
    processed = _payload(strict.pk, _at(old))
    pending = _payload(strict.pk, _at(old), status=InboxStatus.PENDING)
    error = ProcessingError.objects.create(datamart=strict, payload=processed, message="goes with its payload")

    result = partitions.partitions_maintain()

    assert result["dropped"] == []
    assert old in partitions.months_existing(partitions.ACTIVITY)
    assert result["deleted"][f"activities:{strict.pk}"] == 1
    assert set(Activity.objects.values_list("id", flat=True)) == {forever_old.id, strict_new.id}
    assert strict_old.id not in set(Activity.objects.values_list("id", flat=True))
    # Processed payloads past the retention go (their errors with them); a pending one is never lost.
    assert list(InboxPayload.objects.values_list("id", flat=True)) == [pending.id]
    assert not ProcessingError.objects.filter(id=error.id).exists()


def test_a_pending_payload_keeps_its_partition_from_being_dropped(db):
    datamart = datamart_setup().datamart
    Datamart.objects.filter(pk=datamart.pk).update(retention_days=1)
    old = _months_back(4)
    partitions.month_create(partitions.INBOX, old)
    pending = _payload(datamart.pk, _at(old), status=InboxStatus.PENDING)

    result = partitions.partitions_maintain()

    assert partitions.partition_name(partitions.INBOX, old) not in result["dropped"]
    assert InboxPayload.objects.filter(id=pending.id).exists()


def test_an_activity_at_any_time_is_stored_and_a_new_month_takes_its_rows_from_the_default(db, post, drain):
    setup = datamart_setup()
    # Event times far in the past and the future: partitioned by storage time, both land in this month's partition.
    for ts in (1, 32503680000000):
        activity_id = post(setup, {"$ts": ts, "$type": "SITE_VISIT", "$user_agent_id": "vec:anytime"})
        drain()
        current = partitions.month_start(timezone.now().astimezone(UTC).date())
        assert _partition_of(Activity, activity_id) == partitions.partition_name(partitions.ACTIVITY, current)
    # A storage time no partition covers (a clock gone wrong, data loaded by hand) goes to the DEFAULT partition.
    point_id = _point_of("vec:anytime")
    far = _activity(setup.datamart.pk, point_id, datetime(2099, 6, 1, tzinfo=UTC))
    ancient = _activity(setup.datamart.pk, point_id, datetime(1999, 6, 1, tzinfo=UTC))
    assert _partition_of(Activity, far.id) == partitions.default_name(partitions.ACTIVITY)
    assert _partition_of(Activity, ancient.id) == partitions.default_name(partitions.ACTIVITY)
    # When beat reaches that month, its partition is created and the row moves into it.
    assert partitions.month_create(partitions.ACTIVITY, date(2099, 6, 1))
    assert _partition_of(Activity, far.id) == partitions.partition_name(partitions.ACTIVITY, date(2099, 6, 1))
    assert Activity.objects.filter(user_point_id=point_id).count() == 4


def test_erasure_removes_the_activities_of_every_partition(db, post, drain):
    setup = datamart_setup()
    post(setup, {"$ts": 1000, "$type": "SITE_VISIT", "$user_agent_id": "vec:erased"})
    post(setup, {"$ts": 1000, "$type": "SITE_VISIT", "$user_agent_id": "vec:other"})
    drain()
    point_id, other_id = _point_of("vec:erased"), _point_of("vec:other")
    months = [_months_back(1), _months_back(3)]
    for month in months:
        partitions.month_create(partitions.ACTIVITY, month)
        _activity(setup.datamart.pk, point_id, _at(month))
        _activity(setup.datamart.pk, other_id, _at(month))
    _activity(setup.datamart.pk, point_id, datetime(2099, 1, 1, tzinfo=UTC))  # the DEFAULT partition
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(DISTINCT tableoid) FROM activities_activity WHERE user_point_id = %s", [point_id])
        assert cursor.fetchone()[0] == 4

    record = user_point_erase(datamart_id=setup.datamart.pk, user_point_id=point_id, actor="test")

    assert record.counts["activities"] == 4
    assert not Activity.objects.filter(user_point_id=point_id).exists()
    assert Activity.objects.filter(user_point_id=other_id).count() == 3


def test_a_merge_moves_the_activities_of_every_partition(db, post, drain):
    setup = datamart_setup()
    post(setup, {"$ts": 1000, "$type": "SITE_VISIT", "$user_agent_id": "vec:first"})
    drain()
    post(setup, {"$ts": 2000, "$type": "SITE_VISIT", "$user_agent_id": "vec:second"})
    drain()
    first, second = _point_of("vec:first"), _point_of("vec:second")
    for months_back in (1, 2, 5):
        month = _months_back(months_back)
        partitions.month_create(partitions.ACTIVITY, month)
        _activity(setup.datamart.pk, first, _at(month))
        _activity(setup.datamart.pk, second, _at(month))
    _activity(setup.datamart.pk, second, datetime(2099, 1, 1, tzinfo=UTC))

    post(
        setup,
        {
            "$ts": 3000,
            "$type": "SITE_VISIT",
            "$user_identifiers": [
                {"$type": "USER_AGENT", "$user_agent_id": "vec:first"},
                {"$type": "USER_AGENT", "$user_agent_id": "vec:second"},
            ],
        },
    )
    drain()

    survivor = _point_of("vec:first")
    assert _point_of("vec:second") == survivor
    merged = second if survivor == first else first
    assert not Activity.objects.filter(user_point_id=merged).exists()
    # 1 + 3 of each point, 1 in the DEFAULT partition, 1 for the merging activity.
    assert Activity.objects.filter(user_point_id=survivor).count() == 10
