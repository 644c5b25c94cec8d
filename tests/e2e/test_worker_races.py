"""Two worker processes racing on overlapping identifiers end with exactly one user point per person, every
payload applied once: held by the database (constraints, row locks), not by luck."""

from __future__ import annotations

import random
import threading

import pytest
from django.db import connections, transaction
from django.utils import timezone

from apps.activities.inbox import inbox_accept
from apps.activities.mics import Compartments, translate_activity
from apps.activities.models import Activity, InboxPayload, InboxStatus
from apps.userpoints.identifiers import agent_identifier
from apps.userpoints.models import UserIdentifier, UserPoint, UserPointMerge
from apps.userpoints.services import identity_resolve
from tests.e2e.conftest import wait_for
from tests.factories import datamart_setup

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]


def expected_people(payload_identifiers: list[list[str]]) -> list[set[str]]:
    """Union-find over the identifiers each payload links: the partition the pipeline must end with."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for ids in payload_identifiers:
        for other in ids[1:]:
            parent[find(other)] = find(ids[0])
        find(ids[0])
    groups: dict[str, set[str]] = {}
    for x in parent:
        groups.setdefault(find(x), set()).add(x)
    return list(groups.values())


def assert_partition(datamart_id: int, payload_identifiers: list[list[str]]) -> None:
    by_point: dict[str, set[str]] = {}
    for key, point_id in UserIdentifier.objects.filter(datamart_id=datamart_id).values_list("key", "user_point_id"):
        by_point.setdefault(str(point_id), set()).add(key)
    assert sorted(map(sorted, by_point.values())) == sorted(map(sorted, expected_people(payload_identifiers)))
    assert UserPoint.objects.filter(datamart_id=datamart_id).count() == len(by_point)  # no orphan points


def test_two_workers_on_overlapping_identifiers(worker_factory):
    setup = datamart_setup()
    compartments = Compartments(frozenset({setup.default_compartment.pk}), setup.default_compartment.pk)
    rng = random.Random(7)
    # 600 activities over 40 people of 6 device ids each, most activities with two or three of a person's ids:
    # many merges, many shared identifiers, and people small enough for the hyper-point guard to stay out.
    payload_identifiers = []
    for n in range(600):
        person = rng.randrange(40)
        ids = [f"d{person}-{rng.randrange(6)}" for _ in range(rng.choice((1, 2, 2, 3)))]
        ids = list(dict.fromkeys(ids))
        payload_identifiers.append(ids)
        body = {
            "$ts": n,
            "$type": "APP_VISIT",
            "$user_identifiers": [{"$type": "USER_AGENT", "$user_agent_id": i} for i in ids],
        }
        payload, _ = translate_activity(body, compartments)
        InboxPayload.objects.create(
            datamart=setup.datamart, source="ACTIVITY", payload=payload, received_at=timezone.now()
        )
    # Small batches so that the two workers interleave on the same people many times.
    worker_factory(beat=True, concurrency=1, name="w1", batch_size=15)
    worker_factory(beat=False, concurrency=1, name="w2", batch_size=15)
    inbox_accept(datamart_id=setup.datamart.pk, source="ACTIVITY", payload=payload, unique_key="nudge")
    payload_identifiers.append(payload_identifiers[-1])
    wait_for(
        lambda: not InboxPayload.objects.filter(datamart=setup.datamart).exclude(status=InboxStatus.PROCESSED).exists(),
        timeout=180,
        what="both workers to drain the inbox",
    )
    assert Activity.objects.filter(datamart=setup.datamart).count() == 601  # each applied exactly once
    assert_partition(setup.datamart.pk, payload_identifiers)
    assert UserPointMerge.objects.filter(datamart=setup.datamart).exists()


def test_concurrent_identity_resolution_threads(transactional_db):
    """Eight threads resolve overlapping identifier sets at once, each in its own transaction."""
    setup = datamart_setup()
    rng = random.Random(11)
    plans = [[f"t{rng.randrange(30)}" for _ in range(3)] for _ in range(160)]
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def run(chunk: list[list[str]]) -> None:
        try:
            start.wait()
            for ids in chunk:
                with transaction.atomic():
                    identity_resolve(
                        datamart_id=setup.datamart.pk,
                        identifiers=[agent_identifier(i) for i in dict.fromkeys(ids)],
                        now=timezone.now(),
                        trigger_source="ACTIVITY",
                    )
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(plans[i::8],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert_partition(setup.datamart.pk, [list(dict.fromkeys(p)) for p in plans])
