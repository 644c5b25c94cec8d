"""The round trips of the UserPoint API's reads (bench/scale.py): each is one more wait on the route's time.

PostgreSQL only, outside a test transaction (the routes then run as in production, in autocommit). What the client
sends is read from libpq's own trace of the connection, so statements sent around Django's cursor (the timeline's
one statement, BEGIN and COMMIT) are counted too."""

from __future__ import annotations

import tempfile
from typing import Any

import pytest
from django.db import connection
from psycopg import pq

from apps.core.db import read_snapshot
from tests.userpoint_api.helpers import base, point_of, post_activity

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def person(api, drain, setup) -> str:
    for ts in (1000, 2000):
        post_activity(api, setup, _visit(ts, "vec:rt"))
    drain()
    return str(point_of("vec:rt"))


def _statements(api, setup, url: str) -> tuple[list[str], int, Any]:
    """The statements the request sent (their text, as libpq traced them) and its round trips (answers the server
    ended with ReadyForQuery)."""
    api("get", url, key=setup.key)  # the key is then in the process's cache, as on a busy server
    connection.ensure_connection()
    pgconn = connection.connection.pgconn
    with tempfile.TemporaryFile("w+") as trace:
        pgconn.trace(trace.fileno())
        pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS)
        try:
            status, answer = api("get", url, key=setup.key)
        finally:
            pgconn.untrace()
        trace.seek(0)
        lines = [line.rstrip("\n").split("\t") for line in trace]
    assert status == 200, answer
    sent = [fields[3].strip() for fields in lines if fields[0] == "F" and fields[2] in ("Query", "Parse")]
    round_trips = sum(1 for fields in lines if fields[0] == "B" and fields[2] == "ReadyForQuery")
    return sent, round_trips, answer


def _first_word(statement: str) -> str:
    """`"BEGIN ISOLATION..."` (simple protocol) or `"" "SELECT ..."` (extended: the unnamed statement, its text)."""
    return statement.replace('""', "").strip().strip('"').split()[0]


def test_a_selector_read_is_one_statement_without_a_transaction(api, setup, person):
    for selector in ("user_agent_id=vec:rt", f"user_point_id={person}"):
        sql, round_trips, answer = _statements(api, setup, f"{base(setup)}/user_points/{selector}")
        assert [_first_word(s) for s in sql] == ["SELECT"], sql
        assert round_trips == 1
        assert answer["data"]["user_point_id"] == person
        assert answer["data"]["merged_user_point_ids"] == []


@pytest.mark.parametrize("selector", ["user_point_id={person}", "user_agent_id=vec:rt", "{person}"])
def test_a_timeline_read_is_one_statement_without_a_transaction(api, setup, person, selector):
    url = f"{base(setup)}/user_points/{selector.format(person=person)}/user_activities"
    for query in ("", "?start_ts=1000&end_ts=3000", "?max_results=3"):
        sql, round_trips, answer = _statements(api, setup, url + query)
        assert [_first_word(s) for s in sql] == ["WITH"], (query, sql)
        assert round_trips == 1
        assert [a["$ts"] for a in answer["data"]] == [2000, 1000]
        assert answer["total"] == 2


def test_what_one_statement_cannot_answer_is_read_in_one_snapshot(api, setup, person):
    """A full page needs the total counted, and a filter is applied by the ORM: both in a REPEATABLE READ snapshot
    opened by the BEGIN itself, as before."""
    url = f"{base(setup)}/user_points/user_point_id={person}/user_activities"
    for query in ("?max_results=2", "?first_result=1&max_results=1", "?filters=$type==SITE_VISIT"):
        sql, _round_trips, answer = _statements(api, setup, url + query)
        assert sql[-1] == '"COMMIT"', (query, sql)
        begins = [s for s in sql if s.startswith('"BEGIN')]
        assert begins == ['"BEGIN ISOLATION LEVEL REPEATABLE READ"'], (query, sql)
        assert answer["total"] == 2


def test_both_reads_render_a_timeline_alike(api, setup, person):
    """The one-statement read and the ORM's (a filter every activity passes) give the same activities, key for key."""
    url = f"{base(setup)}/user_points/user_agent_id=vec:rt/user_activities"
    _, _, fast = _statements(api, setup, url)
    sql, _, through_orm = _statements(api, setup, f"{url}?filters=$type!=NOTHING")
    assert any(s.startswith('"BEGIN') for s in sql)
    assert fast["data"] == through_orm["data"]
    assert [list(a) for a in fast["data"]] == [list(a) for a in through_orm["data"]]  # the keys' order too
    assert fast["data"][0]["$user_point_id"] == person


def test_a_merged_points_id_reads_its_survivors_timeline(api, drain, setup, person):
    post_activity(api, setup, _visit(500, "vec:other"))
    drain()
    other = str(point_of("vec:other"))
    post_activity(api, setup, _visit(3000, "vec:rt", "vec:other"))  # joins the two points
    drain()
    survivor = str(point_of("vec:rt"))
    assert str(point_of("vec:other")) == survivor
    merged = other if survivor == person else person
    for point_id in (merged, survivor):
        status, answer = api("get", f"{base(setup)}/user_points/{point_id}/user_activities", key=setup.key)
        assert status == 200, answer
        assert [a["$ts"] for a in answer["data"]] == [3000, 2000, 1000, 500]
        assert {a["$user_point_id"] for a in answer["data"]} == {survivor}


def _visit(ts: int, *agents: str) -> dict[str, Any]:
    return {
        "$ts": ts,
        "$type": "SITE_VISIT",
        "$user_identifiers": [{"$type": "USER_AGENT", "$user_agent_id": agent} for agent in agents],
        "$events": [{"$ts": ts, "$event_name": "$page_view"}],
    }


def test_read_snapshot_is_repeatable_read_and_leaves_the_connection_as_it_was():
    def level() -> str:
        with connection.cursor() as cursor:
            cursor.execute("SHOW transaction_isolation")
            return cursor.fetchone()[0]

    before = level()
    with read_snapshot():
        assert level() == "repeatable read"
    assert level() == before
