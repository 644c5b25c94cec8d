#!/usr/bin/env python
"""Scale benchmark (issue 13, point 5); see bench/README.md. `bench/scale.py --help`.

Creates its own database (`tc_bench_scale` by default, created, migrated and **emptied**) on the server of
DATABASE_URL, generates user points with identifiers and activities with COPY, then times, in process, the API
reads through the WSGI application as gunicorn calls it and the console pages through Django's test client (the
whole middleware stack, authentication included, no network):

- the timeline read: GET /v1/datamarts/{id}/user_points/user_point_id={uuid}/user_activities, random points;
- the selector read: GET /v1/datamarts/{id}/user_points/{selector}, by user agent id and by e-mail hash;
- the console's list and search pages, as a superuser and as a marketer.

Each figure is printed next to its goal with MET or MISSED; the exit status is 1 when one is missed.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
if __name__ == "__main__" and VENV_PYTHON.exists() and Path(sys.prefix).resolve() != (ROOT / ".venv").resolve():
    os.execv(str(VENV_PYTHON), [str(VENV_PYTHON), __file__, *sys.argv[1:]])
sys.path.insert(0, str(ROOT))

TIMELINE_P99_MS = 10.0
SELECTOR_P99_MS = 10.0
CONSOLE_MS = 300.0
DAYS = 180  # the activities' storage and event times spread over this many days before now: ~7 monthly partitions
COPY_BLOCK = 20_000  # rows formatted per write to COPY


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=int, default=1_000_000, help="user points (default 1,000,000)")
    parser.add_argument("--activities", type=int, default=10_000_000, help="activities (default 10,000,000)")
    parser.add_argument("--database", default="tc_bench_scale", help="the bench's own database, emptied")
    parser.add_argument("--samples", type=int, default=2000, help="API reads timed per route (default 2,000)")
    parser.add_argument("--page-runs", type=int, default=5, help="times each console page is loaded (default 5)")
    parser.add_argument(
        "--reuse", action="store_true", help="measure the data already in the database: no drop, no generation"
    )
    parser.add_argument("--api-only", action="store_true", help="time the API reads only, not the console pages")
    parser.add_argument("--seed", type=int, default=13)
    return parser.parse_args()


def _server_url(database: str) -> str:
    url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    parts = urlsplit(url)
    if not parts.scheme.startswith("postgres"):
        sys.exit("DATABASE_URL must name a PostgreSQL server")
    return urlunsplit(parts._replace(path=f"/{database}"))


def database_recreate(database: str) -> None:
    import psycopg

    with psycopg.connect(_server_url("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{database}"')


def django_setup(database: str) -> None:
    os.environ["DATABASE_URL"] = _server_url(database)
    os.environ.setdefault("CACHE_URL", "locmemcache://")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trackingconsole.settings")
    import django

    django.setup()
    from django.test.utils import setup_test_environment

    setup_test_environment()  # lets the test client's host in


class Timer:
    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str]] = []
        self.missed = 0

    def line(self, name: str, figure: str, goal: float | None = None, value: float | None = None) -> None:
        verdict = ""
        if goal is not None and value is not None:
            met = value <= goal
            self.missed += not met
            verdict = f"goal ≤ {goal:g} ms  {'MET' if met else 'MISSED'}"
        self.rows.append((name, figure, verdict))
        print(f"{name:<58} {figure:<34} {verdict}", flush=True)


def _hex_ids(rng: random.Random, n: int) -> list[str]:
    return [f"{rng.getrandbits(128):032x}" for _ in range(n)]


def _ts_text(seconds: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S+00", time.gmtime(seconds))


def _copy(table: str, columns: str, rows: Iterator[str]) -> None:
    """COPY in text format, the rows formatted by the caller (tab-separated, no escapes needed)."""
    from django.db import connection

    block: list[str] = []
    with connection.cursor() as cursor, cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for row in rows:
            block.append(row)
            if len(block) >= COPY_BLOCK:
                copy.write("".join(block))
                block.clear()
        if block:
            copy.write("".join(block))


def _constraints_dropped(table: str, *, keys: bool = True) -> list[str]:
    """Drops the table's indexes, keys and foreign keys, returning the statements that rebuild them: building an
    index once is much faster than keeping it up to date through millions of random inserts, and one foreign-key
    validation by a join is faster than a deferred check queued for every row. `keys=False` keeps the primary and
    unique keys (those other tables' foreign keys depend on)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass"
            " AND contype = ANY(%s) ORDER BY contype = 'f', contype",
            [table, ["p", "u", "f"] if keys else ["f"]],
        )
        constraints = cursor.fetchall()
        cursor.execute("SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass", [table])
        names = {name for (name,) in cursor.fetchall()}
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = %s",
            [table],
        )
        # pg_indexes shows a partitioned index as `ON ONLY`, which would not build the partitions' indexes.
        indexes = [d.replace(" ON ONLY ", " ON ", 1) for n, d in cursor.fetchall() if n not in names]
        for name, _, _ in reversed(constraints):
            cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
        cursor.execute(
            "SELECT indexname FROM pg_indexes i WHERE schemaname = current_schema() AND tablename = %s"
            " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)",
            [table],
        )
        for (name,) in cursor.fetchall():
            cursor.execute(f"DROP INDEX {name}")
    own = [f"ALTER TABLE {table} ADD CONSTRAINT {n} {d}" for n, kind, d in constraints if kind != "f"]
    foreign = [f"ALTER TABLE {table} ADD CONSTRAINT {n} {d}" for n, kind, d in constraints if kind == "f"]
    return own + indexes + foreign


def _rebuild(statements: list[str]) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = '1GB'")
        cursor.execute("SET max_parallel_maintenance_workers = 2")
        for statement in statements:
            cursor.execute(statement)


def generate(args: argparse.Namespace, datamart_id: int, timer: Timer) -> None:
    from django.db import connection, transaction

    from apps.activities import partitions

    rng = random.Random(args.seed)
    now = time.time()
    today = datetime.now(UTC).date()
    # The months the activities fall in get their partitions, as if beat had been running all along.
    month = partitions.month_start(today - timedelta(days=DAYS + 31))
    while month <= today:
        for spec in partitions.TABLES:
            partitions.month_create(spec, month)
        month = partitions.month_next(month)

    started = time.monotonic()
    point_ids = _hex_ids(rng, args.points)
    created = [now - DAYS * 86400 * rng.random() for _ in range(args.points)]
    with transaction.atomic():
        rebuild = _constraints_dropped("userpoints_userpoint", keys=False)
        _copy(
            "userpoints_userpoint",
            "id, datamart_id, creation_ts, is_hyper",
            (f"{pid}\t{datamart_id}\t{_ts_text(c)}\tf\n" for pid, c in zip(point_ids, created, strict=True)),
        )
        _rebuild(rebuild)
        rebuild = _constraints_dropped("userpoints_useridentifier")

        def identifiers() -> Iterator[str]:
            for i, (pid, c) in enumerate(zip(point_ids, created, strict=True)):
                when = _ts_text(c)
                agent = f"vec:agent-{i}"
                yield f"{datamart_id}\t{pid}\tUSER_AGENT\t{agent}\t\\N\t\\N\t\\N\t\\N\t{agent}\t{when}\t\\N\n"
                if i % 2 == 0:
                    email = f"person-{i}@example.org"
                    digest = hashlib.sha256(email.encode()).hexdigest()
                    yield f"{datamart_id}\t{pid}\tUSER_EMAIL\t{digest}\t\\N\t\\N\t{digest}\t{email}\t\\N\t{when}\t\\N\n"

        _copy(
            "userpoints_useridentifier",
            "datamart_id, user_point_id, type, key, compartment_id, user_account_id, email_hash, email,"
            " user_agent_id, creation_ts, last_activity_ts",
            identifiers(),
        )
        _rebuild(rebuild)
    points_seconds = time.monotonic() - started
    timer.line(
        f"generate {args.points:,} points + identifiers (COPY)",
        f"{points_seconds:.1f} s ({args.points / points_seconds:,.0f} points/s)",
    )

    started = time.monotonic()
    with transaction.atomic():
        rebuild = _constraints_dropped("activities_activity")

        def activities() -> Iterator[str]:
            types = ("SITE_VISIT", "APP_VISIT", "SITE_VISIT", "USER_SCENARIO_NODE_ENTER")
            for n in range(args.activities):
                pid = point_ids[rng.randrange(args.points)]
                stored = now - DAYS * 86400 * rng.random()
                ts = int(stored * 1000) - rng.randrange(60_000)
                kind = types[n & 3]
                document = (
                    f'{{"$ts": {ts}, "$type": "{kind}", "$events": [{{"$ts": {ts}, "$event_name": "$page_view",'
                    f' "$properties": {{"$url": "https://www.example.org/p/{n % 997}"}}}}]}}'
                )
                row_id = f"{rng.getrandbits(128):032x}"
                yield f"{row_id}\t{datamart_id}\t{pid}\t{kind}\t{ts}\tAPI\t{document}\t{_ts_text(stored)}\n"

        _copy(
            "activities_activity",
            "id, datamart_id, user_point_id, type, ts, source, document, created_at",
            activities(),
        )
        copied = time.monotonic() - started
        _rebuild(rebuild)
    total = time.monotonic() - started
    timer.line(
        f"generate {args.activities:,} activities (COPY)",
        f"{copied:.1f} s ({args.activities / copied:,.0f} rows/s)",
    )
    timer.line("  + building the activity indexes and keys", f"{total - copied:.1f} s")
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    timer.line("VACUUM ANALYZE", f"{time.monotonic() - started:.1f} s")


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def _timed(call: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = call()
    return (time.perf_counter() - started) * 1000, result


def measure_api(args: argparse.Namespace, datamart_id: int, key: str, timer: Timer) -> None:
    from django.db import connection
    from django.test import RequestFactory

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM userpoints_userpoint WHERE datamart_id = %s ORDER BY random() LIMIT %s",
            [datamart_id, args.samples],
        )
        points = [row[0] for row in cursor.fetchall()]
        cursor.execute(
            "SELECT type, key FROM userpoints_useridentifier WHERE datamart_id = %s AND type IN"
            " ('USER_AGENT', 'USER_EMAIL') ORDER BY random() LIMIT %s",
            [datamart_id, args.samples],
        )
        identifiers = cursor.fetchall()
    from trackingconsole.wsgi import application

    requests = RequestFactory(HTTP_AUTHORIZATION=key)
    base = f"/v1/datamarts/{datamart_id}/user_points"

    def get(url: str) -> tuple[int, bytes]:
        """The request through the WSGI application as gunicorn calls it (every middleware, the request signals),
        without the test client, whose per-request signal receivers pile up weak-reference finalizers for the
        collector to walk (3 per request, never freed while the client lives)."""
        status: list[str] = []
        response = application(requests.get(url).environ, lambda line, headers, exc_info=None: status.append(line))
        try:
            return int(status[0].split()[0]), b"".join(response)
        finally:
            response.close()  # request_finished, as a server sends it

    def run(name: str, urls: list[str], goal: float) -> None:
        get(urls[0])  # warm-up: connection, caches, imports
        samples = []
        for url in urls:
            ms, (status, content) = _timed(lambda url=url: get(url))
            if status != 200:
                raise SystemExit(f"{url}: {status} {content[:300]!r}")
            samples.append(ms)
        p50, p99 = _percentiles(samples)
        timer.line(f"{name} p50 ({len(samples)} reads)", f"{p50:.2f} ms")
        timer.line(f"{name} p99", f"{p99:.2f} ms", goal, p99)

    run("timeline read, HTTP route", [f"{base}/user_point_id={p}/user_activities" for p in points], TIMELINE_P99_MS)
    selectors = [
        f"{base}/user_agent_id={k}" if kind == "USER_AGENT" else f"{base}/email_hash={k}" for kind, k in identifiers
    ]
    run("selector read, HTTP route", selectors, SELECTOR_P99_MS)

    # The same reads without the HTTP stack (authentication, middleware, JSON): the selectors the views call. The
    # timeline route reads a page in one statement (timeline_page_read); filters and full pages go through the ORM
    # (timeline_of), which is timed too.
    from apps.activities.selectors import activity_render, timeline_of, timeline_page_read
    from apps.userpoints.selector_syntax import selector_parse
    from apps.userpoints.selectors import user_point_for_selector

    def timeline_one_statement(point: Any) -> None:
        if timeline_page_read(datamart_id=datamart_id, point_id=str(point)) is None:
            raise SystemExit(f"no point {point}")

    def timeline(point: Any) -> None:
        rows = timeline_of(user_point_id=point)
        if len([activity_render(a) for a in rows[:100]]) == 100:
            rows.count()  # as the view: a full page needs the total counted

    def lookup(url: str) -> None:
        if user_point_for_selector(datamart_id=datamart_id, selector=selector_parse(url.rsplit("/", 1)[1])) is None:
            raise SystemExit(f"no point for {url}")

    for name, calls, goal in (
        ("timeline read, one statement", [lambda p=p: timeline_one_statement(p) for p in points], TIMELINE_P99_MS),
        ("timeline read, ORM (page of 100)", [lambda p=p: timeline(p) for p in points], TIMELINE_P99_MS),
        ("selector read, selector", [lambda u=u: lookup(u) for u in selectors], SELECTOR_P99_MS),
    ):
        samples = [_timed(call)[0] for call in calls]
        p50, p99 = _percentiles(samples)
        timer.line(f"{name} p50", f"{p50:.2f} ms")
        timer.line(f"{name} p99", f"{p99:.2f} ms", goal, p99)


def measure_console(args: argparse.Namespace, datamart_id: int, timer: Timer) -> None:
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.test import Client

    if not User.objects.filter(username="bench-admin").exists():
        User.objects.create_superuser("bench-admin", "admin@example.org", "bench-pass-123")
        call_command(
            "create_console_user",
            "--username=bench-marketer",
            "--password=bench-pass-123",
            "--role=marketer",
            f"--datamart={datamart_id}",
        )
    email_point = min(args.points - 1, 4242) // 2 * 2  # points with an even number have an e-mail
    pages = [
        ("user points", "/admin/userpoints/userpoint/"),
        ("activities", "/admin/activities/activity/"),
        ("identifiers", "/admin/userpoints/useridentifier/"),
        ("search by e-mail", f"/admin/userpoints/userpoint/?q=person-{email_point}%40example.org"),
        ("search by user agent id", f"/admin/userpoints/userpoint/?q=vec:agent-{email_point + 1}"),
        ("activities, page 50", "/admin/activities/activity/?p=50"),
        ("activities of one type", "/admin/activities/activity/?type=APP_VISIT"),
    ]
    for username in ("bench-admin", "bench-marketer"):
        client = Client()
        client.force_login(User.objects.get(username=username))
        for name, url in pages:
            response = client.get(url)  # warm-up (and the check that the page works)
            if response.status_code != 200:
                raise SystemExit(f"{username} {url}: {response.status_code}")
            samples = [_timed(lambda c=client, u=url: c.get(u))[0] for _ in range(args.page_runs)]
            worst = max(samples)
            timer.line(
                f"console {name} ({username.removeprefix('bench-')})",
                f"median {statistics.median(samples):.0f} ms, worst {worst:.0f} ms",
                CONSOLE_MS,
                worst,
            )


def main() -> int:
    args = parse_args()
    if not args.reuse:
        database_recreate(args.database)
    django_setup(args.database)
    from django.core.management import call_command

    from apps.datamarts.models import ApiKey, Datamart
    from apps.datamarts.services import api_key_create, datamart_create

    timer = Timer()
    if not args.reuse:
        call_command("migrate", verbosity=0)
    datamart = Datamart.objects.filter(name="bench scale").first()
    if datamart is None:
        datamart = datamart_create(name="bench scale")
    ApiKey.objects.filter(datamart=datamart).delete()
    key = api_key_create(datamart=datamart, name="bench", scopes=["read"]).raw_key
    if not args.reuse:
        generate(args, datamart.pk, timer)
    else:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM userpoints_userpoint")
            args.points = cursor.fetchone()[0]
    # What a web process does at start (trackingconsole/wsgi.py): what is loaded so far, the generation's leftovers
    # included, is frozen out of the garbage collector's reach, so the reads are timed as a server would serve them.
    import trackingconsole.wsgi  # noqa: F401

    measure_api(args, datamart.pk, key, timer)
    if not args.api_only:
        measure_console(args, datamart.pk, timer)
    print(f"\n{'all goals met' if not timer.missed else f'{timer.missed} goal(s) missed'}")
    return 1 if timer.missed else 0


if __name__ == "__main__":
    sys.exit(main())
