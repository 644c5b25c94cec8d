"""Consent is decided by `$choice_ts`, not by arrival (spec 1.6), whatever the order the writes come in."""

from __future__ import annotations

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.choices.models import Choice, ChoiceChangeLogEntry
from apps.choices.services import choice_apply
from apps.userpoints.models import UserPoint
from tests.factories import ProcessingFactory

pytestmark = pytest.mark.django_db

writes = st.lists(
    st.tuples(st.integers(min_value=0, max_value=10**13), st.booleans()),
    min_size=1,
    max_size=8,
    unique_by=lambda w: w[0],
).flatmap(lambda ws: st.permutations(ws))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(arrival=writes)
def test_the_latest_choice_ts_wins_and_every_write_is_logged(setup, arrival):
    processing = ProcessingFactory(datamart=setup.datamart)
    point = UserPoint.objects.create(datamart=setup.datamart, creation_ts=timezone.now())
    for choice_ts, value in arrival:
        choice_apply(
            datamart_id=setup.datamart.pk,
            user_point_id=point.id,
            processing_id=processing.pk,
            choice_ts=choice_ts,
            acceptance_value=value,
            custom_fields={"ts": choice_ts},
            source="API",
            source_ref="property",
            now=timezone.now(),
        )
    latest_ts, latest_value = max(arrival)
    choice = Choice.objects.get(user_point=point, processing=processing)
    assert (choice.choice_ts, choice.acceptance_value, choice.custom_fields) == (
        latest_ts,
        latest_value,
        {"ts": latest_ts},
    )
    log = list(ChoiceChangeLogEntry.objects.filter(user_point=point).order_by("id"))
    assert [(e.choice_ts, e.acceptance_value) for e in log] == arrival
    # A write is applied exactly when it is newer than every write that arrived before it.
    seen: list[int] = []
    for entry in log:
        assert entry.applied == (not seen or entry.choice_ts > max(seen))
        seen.append(entry.choice_ts)


# Text the database can store: a NUL or a lone surrogate is a 400 (tested below), not a round trip.
storable_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=5)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**9), 10**9) | storable_text,
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.text("abc", min_size=1, max_size=3), inner, max_size=3),
    max_leaves=6,
)
bodies = st.dictionaries(st.text("abcxyz", min_size=1, max_size=4), json_values, max_size=5)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=bodies, second=bodies)
def test_force_replace_then_get_gives_exactly_the_body(api, setup, first, second):
    url = (
        f"/v1/datamarts/{setup.datamart.pk}/user_points/user_agent_id=vec:prop/user_profiles/"
        f"compartment_id={setup.default_compartment.pk}/user_account_id=u"
    )
    for body in (first, second):
        status, _ = api("put", f"{url}?update_strategy=FORCE_REPLACE", body, key=setup.key)
        assert status == 200
        status, answer = api("get", url, key=setup.key)
        assert {k: v for k, v in answer["data"].items() if not k.startswith("$")} == body


def test_a_body_the_database_cannot_store_is_a_400(api, setup):
    url = (
        f"/v1/datamarts/{setup.datamart.pk}/user_points/user_agent_id=vec:nul/user_profiles/"
        f"compartment_id={setup.default_compartment.pk}/user_account_id=u"
    )
    for raw in ('{"a": "\\u0000"}', '{"a": "\\ud800"}', '{"a": NaN}'):
        status, answer = api("put", url, raw, key=setup.key)
        assert status == 400, raw
        assert answer["status"] == "error"
