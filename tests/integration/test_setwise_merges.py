"""Merges resolved set-wise in the drain's bulk path (issue 13): a batch's merges cost a constant number of queries,
and the outcome is the one of applying the payloads one at a time, in the order they came."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.activities.models import Activity, InboxPayload, InboxStatus
from apps.activities.pipeline import inbox_drain_batch, payload_process_one
from apps.choices.models import Choice
from apps.profiles.models import Profile
from apps.userpoints.models import UserIdentifier, UserPoint, UserPointMerge
from tests.factories import ProcessingFactory, datamart_setup

pytestmark = pytest.mark.django_db

_clock = [timezone.now()]


def agent(value: str) -> dict:
    return {"type": "USER_AGENT", "user_agent_id": value}


def payload(
    setup,
    ts: int,
    *identifiers: dict,
    link_if_known: list[dict] | None = None,
    profile: dict | None = None,
    choice: tuple[int, int, bool] | None = None,
) -> InboxPayload:
    """An accepted payload in canonical form, received after the previous one."""
    _clock[0] += timedelta(milliseconds=1)
    body: dict = {
        "identifiers": list(identifiers),
        "activity": {"type": "SITE_VISIT", "ts": ts, "document": {"$ts": ts}},
        "profile_updates": [],
        "choice_updates": [],
        "errors": [],
    }
    if link_if_known:
        body["link_if_known"] = link_if_known
    if profile:
        body["profile_updates"] = [
            {
                "compartment_id": setup.default_compartment.pk,
                "user_account_id": None,
                "properties": profile,
                "strategy": "PARTIAL_UPDATE",
                "merge_objects": False,
            }
        ]
    if choice:
        processing_id, choice_ts, value = choice
        body["choice_updates"] = [
            {
                "processing_id": str(processing_id),
                "choice_ts": choice_ts,
                "acceptance_value": value,
                "custom_fields": {},
            }
        ]
    return InboxPayload.objects.create(datamart=setup.datamart, source="ACTIVITY", payload=body, received_at=_clock[0])


def drain_one_batch() -> int:
    claimed = inbox_drain_batch(batch_size=10_000)
    # All of it in the bulk path: the one-by-one path would process whatever it left.
    assert InboxPayload.objects.filter(status=InboxStatus.PENDING).count() == 0
    return claimed


def point_of(key: str):
    return UserIdentifier.objects.get(key=key).user_point_id


def make_pairs(setup, prefix: str, n: int) -> None:
    """n pairs of points: `{prefix}a{i}`, then, created later, `{prefix}b{i}`."""
    for i in range(n):
        payload(setup, 1, agent(f"{prefix}a{i}"))
    drain_one_batch()
    for i in range(n):
        payload(setup, 2, agent(f"{prefix}b{i}"))
    drain_one_batch()


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="a constant number of queries is PostgreSQL's bulk path (COPY, arrays); SQLite's writes row by row",
)
def test_a_batch_of_merges_costs_the_same_queries_for_3_merges_as_for_12(setup):
    processing = ProcessingFactory(datamart=setup.datamart)
    queries = {}
    for prefix, n in (("s", 3), ("l", 12)):
        make_pairs(setup, prefix, n)
        for i in range(n):
            # Each point holds a choice and a profile, so every merge handler has rows to fold.
            payload(setup, 3, agent(f"{prefix}a{i}"), profile={"a": i}, choice=(processing.pk, 10, True))
            payload(setup, 4, agent(f"{prefix}b{i}"), profile={"b": i}, choice=(processing.pk, 20, False))
        drain_one_batch()
        triggers = [payload(setup, 5, agent(f"{prefix}b{i}"), agent(f"{prefix}a{i}")) for i in range(n)]
        with CaptureQueriesContext(connection) as captured:
            assert drain_one_batch() == n
        queries[n] = len(captured.captured_queries)
        for i, trigger in enumerate(triggers):
            survivor = point_of(f"{prefix}a{i}")
            assert point_of(f"{prefix}b{i}") == survivor  # the older point survives
            record = UserPointMerge.objects.get(survivor_id=survivor)
            assert record.trigger_ref == str(trigger.id)
            assert Activity.objects.filter(user_point_id=survivor).count() == 5
            assert Profile.objects.get(user_point_id=survivor).properties == {"a": i, "b": i}
            assert Choice.objects.get(user_point_id=survivor).acceptance_value is False  # the later choice_ts
    assert queries[3] == queries[12], queries


def test_a_chain_across_the_batch_merges_three_points_into_the_oldest(setup):
    for name in ("A", "B", "C"):
        payload(setup, 1, agent(name))
        drain_one_batch()
    oldest = point_of("A")
    payload(setup, 2, agent("C"), agent("new"))
    first_link = payload(setup, 3, agent("new"), agent("B"))
    payload(setup, 4, agent("B"), agent("A"))
    drain_one_batch()
    assert UserPoint.objects.count() == 1
    assert {point_of(k) for k in ("A", "B", "C", "new")} == {oldest}
    assert set(UserPointMerge.objects.values_list("trigger_ref", flat=True)) == {str(first_link.id)}
    assert UserPointMerge.objects.filter(survivor_id=oldest).count() == 2


def test_link_if_known_joins_an_identifier_named_earlier_in_the_same_batch_only(setup):
    payload(setup, 1, agent("anon"), link_if_known=[agent("user-1")])  # nobody holds user-1 yet: not linked
    payload(setup, 2, agent("user-1"))
    payload(setup, 3, agent("anon-2"), link_if_known=[agent("user-1")])  # named above: linked
    drain_one_batch()
    assert point_of("anon") != point_of("user-1")
    assert point_of("anon-2") == point_of("user-1")


def _snapshot(datamart) -> dict:
    """Who is who, independent of point ids: per person (the set of its identifiers), what it holds."""
    people = {}
    for point in UserPoint.objects.filter(datamart=datamart):
        keys = frozenset(UserIdentifier.objects.filter(user_point=point).values_list("key", flat=True))
        people[keys] = (
            sorted(Activity.objects.filter(user_point=point).values_list("ts", flat=True)),
            sorted(Choice.objects.filter(user_point=point).values_list("choice_ts", "acceptance_value")),
            [p.properties for p in Profile.objects.filter(user_point=point)],
        )
    return people


def _random_scenario(seed: int, processing_id: int) -> list[list[tuple]]:
    """Three rounds of payloads over 150 agent ids: new people, returning people, people linking two ids."""
    rng = random.Random(seed)
    rounds = []
    for round_number in range(3):
        calls = []
        for n in range(60):
            ids = [f"u{rng.randrange(150)}" for _ in range(rng.choice((1, 1, 1, 1, 1, 1, 1, 1, 2, 3)))]
            kwargs: dict = {}
            if rng.random() < 0.05:
                kwargs["link_if_known"] = [agent(f"u{rng.randrange(150)}")]
            if rng.random() < 0.2:
                kwargs["profile"] = {f"p{round_number}_{n}": n}  # distinct keys: no overwrite to order
            if rng.random() < 0.2:
                kwargs["choice"] = (processing_id, rng.randrange(1000), rng.random() < 0.5)
            calls.append((round_number * 100 + n, [agent(i) for i in ids], kwargs))
        rounds.append(calls)
    return rounds


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_set_wise_resolution_agrees_with_one_payload_at_a_time(setup, seed):
    """The same payloads in two datamarts: drained in batches in one, applied one at a time in the other."""
    other = datamart_setup()
    scenario = {
        target.datamart.pk: _random_scenario(seed, ProcessingFactory(datamart=target.datamart).pk)
        for target in (setup, other)
    }
    for round_number in range(3):
        for ts, identifiers, kwargs in scenario[setup.datamart.pk][round_number]:
            payload(setup, ts, *identifiers, **kwargs)
        drain_one_batch()
        rows = [payload(other, ts, *ids, **kwargs) for ts, ids, kwargs in scenario[other.datamart.pk][round_number]]
        for row in rows:
            payload_process_one(payload_id=row.id)
    assert UserPointMerge.objects.filter(datamart=setup.datamart).exists()  # the scenario does merge
    set_wise = _snapshot(setup.datamart)
    assert len(set_wise) > 10  # several people, not one component
    assert set_wise == _snapshot(other.datamart)
