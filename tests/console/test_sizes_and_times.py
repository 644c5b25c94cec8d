"""Audience sizes that stay fast on a large datamart (an exact count within the budget, else the planner's
estimate, labelled), an identifier's last activity at its event time, erasure counts and chart axes in words."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection

from apps.console.charts import bar_chart, nice_ceiling
from apps.console.counting import Size, audience_size
from apps.console.rendering import erasure_counts_text
from apps.console.timezones import zone_named
from apps.userpoints.identifiers import email_hash
from apps.userpoints.models import UserIdentifier, UserPoint
from tests.console.conftest import activity
from tests.factories import datamart_setup

ROWS = 300_000


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_large_list_shows_an_estimate_when_counting_exactly_exceeds_the_budget():
    setup = datamart_setup()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO userpoints_userpoint (id, datamart_id, creation_ts, is_hyper) "
            "SELECT gen_random_uuid(), %s, now(), false FROM generate_series(1, %s)",
            [setup.datamart.pk, ROWS],
        )
        cursor.execute("ANALYZE userpoints_userpoint")
    points = UserPoint.objects.filter(datamart=setup.datamart)
    assert audience_size(points, budget_ms=60_000) == Size(ROWS, exact=True)
    # A 1 ms budget cannot count 300,000 rows: the page gets the planner's estimate instead, within 20 %.
    estimate = audience_size(points, budget_ms=1)
    assert not estimate.exact
    assert 0.8 * ROWS <= estimate.count <= 1.2 * ROWS
    assert estimate.shown % 1000 == 0  # two significant digits: it does not pretend to be exact
    # The cancelled count left the connection usable, with its usual timeout.
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone()[0] == "0"
    assert points.filter(is_hyper=True).count() == 0


@pytest.mark.django_db
def test_an_identifier_last_activity_is_its_newest_event_time(api, drain):
    setup = datamart_setup()
    url = f"/v1/datamarts/{setup.datamart.pk}/user_activities"
    newer, older = 1_700_000_900_000, 1_700_000_100_000
    for ts in (newer, older):  # the older activity arrives last
        status, answer = api("post", url, activity(ts, email="late@example.com", agent="vec:late"), key=setup.key)
        assert status == 200, answer
        drain()
    seen = datetime.fromtimestamp(newer / 1000, tz=UTC)
    email = UserIdentifier.objects.get(datamart=setup.datamart, key=email_hash("late@example.com"))
    assert email.last_activity_ts == seen  # not the processing time, and not moved back by the older activity
    agent = UserIdentifier.objects.get(datamart=setup.datamart, user_agent_id="vec:late")
    assert agent.last_activity_ts == seen


def test_erasure_counts_read_as_words():
    counts = {"activities": 3, "profiles": 1, "choices": 0, "change_log_entries": 1, "identifiers": 2}
    assert erasure_counts_text(counts) == "3 activities, 1 profile, 1 consent change-log entry, 2 identifiers"
    assert erasure_counts_text({}) == "nothing left to delete"


def test_chart_axes_have_round_ticks_and_dates_a_week_apart():
    assert [nice_ceiling(v) for v in (0, 1, 3, 7, 11, 48, 240, 999)] == [1, 1, 5, 10, 20, 50, 250, 1000]
    days = [f"2026-11-{d:02d}" for d in range(1, 31)]
    svg = bar_chart([(d, 7) for d in days], title="t")
    assert ">10</text>" in svg  # the top tick: 7 rounds up to 10
    assert ">5</text>" in svg
    labelled = [d for d in days if f">{d}</text>" in svg]
    assert labelled == ["2026-11-02", "2026-11-09", "2026-11-16", "2026-11-23", "2026-11-30"]


def test_only_real_time_zone_names_are_taken_from_the_cookie():
    assert str(zone_named("Europe/Paris")) == "Europe/Paris"
    for bad in ("", "Mars/Olympus", "../../etc/passwd", "Europe/Paris\x00", "x" * 100):
        assert zone_named(bad) is None
