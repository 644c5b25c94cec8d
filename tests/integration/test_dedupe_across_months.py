"""The inbox's dedupe key holds across its monthly partitions (docs/partitioning.md, apps/activities/inbox.py): a
retry that lands in another month than the first copy (sent at 23:59:59 on the 31st, retried after midnight UTC) is
answered as a duplicate, stored once and processed once. The keys live in InboxKey, written in the same statement as
the payload; the retention deletes them with their payloads, erasure keeps them."""

from __future__ import annotations

import json
import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from apps.activities import partitions
from apps.activities.inbox import _throttle, inbox_accept, inbox_accept_many
from apps.activities.models import Activity, InboxKey, InboxPayload, InboxStatus, Source
from apps.datamarts.models import Datamart
from apps.userpoints.erasure import user_point_erase
from apps.userpoints.models import UserIdentifier
from tests.dialects.segment.helpers import basic
from tests.factories import datamart_setup, site_visit

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_trailing_nudge_left():
    """Accepting a payload may arm the drain nudge's trailing timer (inbox.drain_nudge): it is waited for, so that it
    does not fire during the next test (test_drain_nudge.py, next in order, watches the nudge's cache key)."""
    yield
    trailing = _throttle.trailing
    if trailing is not None:
        trailing.join()


def _months_back(n: int) -> date:
    month = partitions.month_start(timezone.now().astimezone(UTC).date())
    for _ in range(n):
        month = date(month.year - (month.month == 1), (month.month - 2) % 12 + 1, 1)
    return month


def _last_second_of(month: date) -> datetime:
    following = partitions.month_next(month)
    return datetime(following.year, following.month, 1, tzinfo=UTC) - timedelta(seconds=1)


def _move(payload_id, received_at: datetime, *, key_too: bool = False) -> None:
    """Sets a payload's `received_at` (PostgreSQL moves the row to that month's partition), and its key's with
    `key_too` (a payload received then would have its key received then)."""
    assert InboxPayload.objects.filter(id=payload_id).update(received_at=received_at) == 1
    if key_too:
        assert InboxKey.objects.filter(payload_id=payload_id).update(received_at=received_at) == 1


def _partition_of(payload_id) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT tableoid::regclass::text FROM {InboxPayload._meta.db_table} WHERE id = %s", [payload_id]
        )
        return cursor.fetchone()[0]


@pytest.fixture
def segment_batch(client):
    def send(setup, messages: list[dict]) -> None:
        response = client.post(
            "/v1/batch",
            data={"batch": messages},
            content_type="application/json",
            headers={"Authorization": basic(setup.key)},
        )
        assert response.status_code == 200, response.content

    return send


def _track(message_id: str, user: str = "u1") -> dict:
    return {"type": "track", "userId": user, "event": "Added File", "messageId": message_id}


@pytest.mark.postgres
def test_a_unique_key_retried_in_the_next_month_is_a_duplicate(post, drain):
    setup = datamart_setup()
    previous = _months_back(1)
    partitions.month_create(partitions.INBOX, previous)
    first = post(setup, site_visit("vec:retry", **{"$unique_key": "order-31"}))
    # The first copy arrived at 23:59:59 on the last day of the previous month.
    _move(first, _last_second_of(previous))
    assert _partition_of(first) == partitions.partition_name(partitions.INBOX, previous)

    retried = post(setup, site_visit("vec:retry", **{"$unique_key": "order-31"}))

    assert retried == first
    assert InboxPayload.objects.filter(datamart=setup.datamart, unique_key="order-31").count() == 1
    assert drain() == 1
    assert Activity.objects.filter(datamart=setup.datamart).count() == 1
    # Retried again after processing: still the first payload, nothing more to process.
    assert post(setup, site_visit("vec:retry", **{"$unique_key": "order-31"})) == first
    assert drain() == 0


@pytest.mark.postgres
def test_a_segment_message_id_retried_in_the_next_month_is_a_duplicate(segment_batch, drain):
    setup = datamart_setup()
    previous = _months_back(1)
    partitions.month_create(partitions.INBOX, previous)
    segment_batch(setup, [_track("m-31")])
    first = InboxPayload.objects.get(datamart=setup.datamart, unique_key="segment:m-31")
    _move(first.id, _last_second_of(previous))

    # The retried batch has the old message and a new one: the new one only is stored.
    segment_batch(setup, [_track("m-31"), _track("m-01")])

    keys = sorted(
        str(k) for k in InboxPayload.objects.filter(datamart=setup.datamart).values_list("unique_key", flat=True)
    )
    assert keys == ["segment:m-01", "segment:m-31"]
    assert InboxKey.objects.get(datamart=setup.datamart, unique_key="segment:m-31").payload_id == first.id
    assert drain() == 2
    assert Activity.objects.filter(datamart=setup.datamart).count() == 2


def test_a_batch_with_a_message_id_twice_stores_the_first(segment_batch, drain):
    setup = datamart_setup()
    twice = [_track("same", user="first"), _track("other"), _track("same", user="second")]
    segment_batch(setup, twice)
    segment_batch(setup, twice)

    stored = InboxPayload.objects.filter(datamart=setup.datamart)
    assert stored.count() == 2
    first = stored.get(unique_key="segment:same")
    assert InboxKey.objects.get(datamart=setup.datamart, unique_key="segment:same").payload_id == first.id
    assert '"first"' in json.dumps(first.payload)
    assert '"second"' not in json.dumps(first.payload)
    assert drain() == 2


def test_payloads_without_a_key_are_all_stored(db):
    setup = datamart_setup()
    inbox_accept_many(datamart_id=setup.datamart.pk, source=Source.API, payloads=[({}, None), ({}, None)])
    inbox_accept(datamart_id=setup.datamart.pk, source=Source.API, payload={})
    assert InboxPayload.objects.filter(datamart=setup.datamart).count() == 3
    assert not InboxKey.objects.exists()


@pytest.mark.parametrize("keyed", [False, True], ids=["no key (plain INSERT)", "keys (with the key table)"])
def test_a_batch_is_received_in_the_order_it_came(db, keyed):
    """The drain processes in `received_at` order, so a batch's payloads must be received in their order, whichever
    statement stores them (inbox._insert_many_postgresql has one for batches without any key)."""
    setup = datamart_setup()
    payloads = [({"n": n}, f"order-{n}" if keyed else None) for n in range(7)]
    inbox_accept_many(datamart_id=setup.datamart.pk, source=Source.API, payloads=payloads)
    stored = InboxPayload.objects.filter(datamart=setup.datamart).order_by("received_at")
    assert [row.payload["n"] for row in stored] == list(range(7))
    assert len({row.received_at for row in stored}) == 7
    assert [row.unique_key for row in stored] == [key for _, key in payloads]
    assert InboxKey.objects.filter(datamart=setup.datamart).count() == (7 if keyed else 0)


def test_erasure_keeps_the_keys_so_a_late_retry_does_not_bring_the_data_back(post, drain):
    setup = datamart_setup()
    first = post(setup, site_visit("vec:erased", **{"$unique_key": "order-e"}))
    drain()
    point_id = UserIdentifier.objects.get(key="vec:erased").user_point_id

    user_point_erase(datamart_id=setup.datamart.pk, user_point_id=point_id, actor="test")
    assert not InboxPayload.objects.filter(id=first).exists()

    assert post(setup, site_visit("vec:erased", **{"$unique_key": "order-e"})) == first
    assert not InboxPayload.objects.filter(datamart=setup.datamart).exists()
    assert drain() == 0
    assert not UserIdentifier.objects.filter(key="vec:erased").exists()


@pytest.mark.postgres
def test_retention_drops_a_month_and_its_keys(post, drain):
    setup = datamart_setup()
    Datamart.objects.filter(pk=setup.datamart.pk).update(retention_days=30)
    old = _months_back(6)
    partitions.month_create(partitions.INBOX, old)
    gone = post(setup, site_visit("vec:old", **{"$unique_key": "old"}))
    kept = post(setup, site_visit("vec:new", **{"$unique_key": "new"}))
    drain()
    _move(gone, _last_second_of(old), key_too=True)

    result = partitions.partitions_maintain()

    assert partitions.partition_name(partitions.INBOX, old) in result["dropped"]
    assert result["deleted"][f"inbox_keys:{setup.datamart.pk}"] == 1
    assert list(InboxKey.objects.values_list("unique_key", flat=True)) == ["new"]
    # Past the retention, the key is forgotten with its payload; a recent one still holds.
    assert post(setup, site_visit("vec:new", **{"$unique_key": "new"})) == kept
    assert post(setup, site_visit("vec:old", **{"$unique_key": "old"})) != gone


def test_a_stricter_retention_deletes_the_keys_of_deleted_payloads_and_keeps_the_pending_ones(db):
    strict, forever = datamart_setup().datamart, datamart_setup().datamart
    Datamart.objects.filter(pk=strict.pk).update(retention_days=30)
    old = _months_back(4)
    if partitions.enabled():
        partitions.month_create(partitions.INBOX, old)
    ids = {}
    for datamart, key in ((strict, "processed"), (strict, "pending"), (forever, "forever")):
        ids[key] = inbox_accept(datamart_id=datamart.pk, source=Source.API, payload={}, unique_key=key).payload_id
        _move(ids[key], _last_second_of(old), key_too=True)
    InboxPayload.objects.exclude(id=ids["pending"]).update(status=InboxStatus.PROCESSED)

    result = partitions.partitions_maintain()

    assert result["dropped"] == []
    assert result["deleted"][f"inbox:{strict.pk}"] == 1
    assert result["deleted"][f"inbox_keys:{strict.pk}"] == 1
    assert set(InboxKey.objects.values_list("unique_key", flat=True)) == {"pending", "forever"}
    # The pending payload's retry is still a duplicate.
    again = inbox_accept(datamart_id=strict.pk, source=Source.API, payload={}, unique_key="pending")
    assert again.duplicate
    assert again.payload_id == ids["pending"]


@pytest.mark.postgres
def test_a_key_inserted_concurrently_waits_for_the_first_and_answers_its_id(transactional_db):
    setup = datamart_setup()
    inserted, release = threading.Event(), threading.Event()
    answers: dict[str, object] = {}

    def first() -> None:
        try:
            with transaction.atomic():
                answers["first"] = inbox_accept(
                    datamart_id=setup.datamart.pk, source=Source.API, payload={}, unique_key="race"
                )
                inserted.set()
                release.wait(10)
        finally:
            connections.close_all()

    def second() -> None:
        try:
            answers["second"] = inbox_accept(
                datamart_id=setup.datamart.pk, source=Source.API, payload={}, unique_key="race"
            )
        finally:
            connections.close_all()

    one = threading.Thread(target=first)
    one.start()
    assert inserted.wait(10)
    two = threading.Thread(target=second)
    two.start()
    two.join(0.5)
    assert two.is_alive(), "the second INSERT waits for the first transaction"
    release.set()
    one.join(10)
    two.join(10)

    assert answers["second"].duplicate
    assert answers["second"].payload_id == answers["first"].payload_id
    assert list(InboxPayload.objects.values_list("id", flat=True)) == [answers["first"].payload_id]


@pytest.mark.postgres
def test_a_batch_inserted_concurrently_with_the_same_keys_stores_each_once(transactional_db):
    setup = datamart_setup()
    inserted, release = threading.Event(), threading.Event()

    def first() -> None:
        try:
            with transaction.atomic():
                inbox_accept_many(datamart_id=setup.datamart.pk, source=Source.API, payloads=[({}, "b"), ({}, "a")])
                inserted.set()
                release.wait(10)
        finally:
            connections.close_all()

    def second() -> None:
        try:
            inbox_accept_many(
                datamart_id=setup.datamart.pk, source=Source.API, payloads=[({}, "a"), ({}, "c"), ({}, "b")]
            )
        finally:
            connections.close_all()

    one = threading.Thread(target=first)
    one.start()
    assert inserted.wait(10)
    two = threading.Thread(target=second)
    two.start()
    two.join(0.5)
    assert two.is_alive()
    release.set()
    one.join(10)
    two.join(10)

    keys = sorted(str(k) for k in InboxPayload.objects.values_list("unique_key", flat=True))
    assert keys == ["a", "b", "c"]
    owners = dict(InboxKey.objects.values_list("unique_key", "payload_id"))
    assert owners == dict(InboxPayload.objects.values_list("unique_key", "id"))


def test_deleting_a_datamart_deletes_its_keys(db):
    gone, kept = datamart_setup().datamart, datamart_setup().datamart
    for datamart in (gone, kept):
        inbox_accept(datamart_id=datamart.pk, source=Source.API, payload={}, unique_key="k")
    gone.delete()
    assert list(InboxKey.objects.values_list("datamart_id", flat=True)) == [kept.pk]
