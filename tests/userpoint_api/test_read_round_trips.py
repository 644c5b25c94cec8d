"""The round trips of the UserPoint API's reads (bench/scale.py): each is one more wait on the route's time.

PostgreSQL only, outside a test transaction (the routes then run as in production, in autocommit)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.core.db import read_snapshot
from tests.userpoint_api.helpers import base, point_of, post_activity

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def person(api, drain, setup) -> str:
    for ts in (1000, 2000):
        post_activity(
            api,
            setup,
            {
                "$ts": ts,
                "$type": "SITE_VISIT",
                "$user_identifiers": [{"$type": "USER_AGENT", "$user_agent_id": "vec:rt"}],
                "$events": [{"$ts": ts, "$event_name": "$page_view"}],
            },
        )
    drain()
    return str(point_of("vec:rt"))


def _statements(api, setup, url: str) -> tuple[list[str], Any]:
    api("get", url, key=setup.key)  # the key is then in the process's cache, as on a busy server
    with CaptureQueriesContext(connection) as captured:
        status, answer = api("get", url, key=setup.key)
    assert status == 200, answer
    return [q["sql"] for q in captured.captured_queries], answer


def test_a_selector_read_is_one_statement_without_a_transaction(api, setup, person):
    for selector in ("user_agent_id=vec:rt", f"user_point_id={person}"):
        sql, answer = _statements(api, setup, f"{base(setup)}/user_points/{selector}")
        assert len(sql) == 1, sql
        assert sql[0].startswith("SELECT"), sql
        assert answer["data"]["user_point_id"] == person
        assert answer["data"]["merged_user_point_ids"] == []


def test_a_timeline_read_sets_its_isolation_in_the_begin(api, setup, person):
    sql, answer = _statements(api, setup, f"{base(setup)}/user_points/user_point_id={person}/user_activities")
    assert [s.split()[0] for s in sql] == ["BEGIN", "SELECT", "SELECT", "COMMIT"], sql
    assert answer["total"] == 2


def test_read_snapshot_is_repeatable_read_and_leaves_the_connection_as_it_was():
    def level() -> str:
        with connection.cursor() as cursor:
            cursor.execute("SHOW transaction_isolation")
            return cursor.fetchone()[0]

    before = level()
    with read_snapshot():
        assert level() == "repeatable read"
    assert level() == before
