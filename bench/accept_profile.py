#!/usr/bin/env python
"""Where a single accepted activity's cost goes, against the bare JSON view: the profile behind target 1 (the
route at >= 0.5x the bare view). Run from anywhere: `bench/accept_profile.py` (uses .venv's Python if there).

Everything runs in this process, one thread, through the WSGI application as gunicorn calls it, on the bench
database of bench/ingest (`tc_bench`, emptied): no HTTP server, no concurrency, so the figures are CPU per request
without the noise of a 2-core machine shared by gunicorn, PostgreSQL and the load generator.

1. CPU per request of the bare view and of the route, alternated in rounds;
2. the route's own steps (each function of the view timed by a wrapper: instrumentation, on this process only);
3. PostgreSQL's side, read from the backend's /proc entry (PostgreSQL on this machine): what one statement costs
   the server (`SELECT 1`), the route's INSERT of one payload, the same payload as one of 4 in one statement (what
   batching would save), and the INSERT without waiting for the WAL flush (`synchronous_commit = off`, measured
   only: the product never turns it off, since a 2xx promises a durable payload).
"""

from __future__ import annotations

import io
import os
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

ROOT = Path(__file__).resolve().parent.parent
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
if VENV_PYTHON.exists() and Path(sys.prefix).resolve() != (ROOT / ".venv").resolve():
    os.execv(str(VENV_PYTHON), [str(VENV_PYTHON), __file__, *sys.argv[1:]])
sys.path.insert(0, str(ROOT))

from bench.ingest_lib import Bench, http_bodies, parse_args  # noqa: E402

REQUESTS = 3000  # per measurement
ROUNDS = 3
STATEMENTS = 3000
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# The route's steps, as the view module names them (apps/activities/views.py) and inbox.py's own.
VIEW_STEPS = (
    "authenticate",
    "origin_refusal",
    "inbox_retry_after",
    "is_json_content_type",
    "body_bytes",
    "json_loads",
    "compartments_of",
    "translate_activity",
    "request_signals",
    "inbox_accept",
    "mics_ok",
)
INBOX_STEPS = ("_insert_one_postgresql", "drain_nudge")


def main() -> int:
    args = parse_args(["--skip-http", "--skip-drain", *sys.argv[1:]])
    with Bench(args, bench_endpoints_here=True) as bench:
        from trackingconsole.wsgi import application

        bodies = [body.encode() for body in http_bodies(bench)]
        route = f"/v1/datamarts/{bench.fixture['datamart_id']}/user_activities"
        key = bench.fixture["key"]

        def requests(path: str, auth: str | None, n: int) -> float:
            """CPU ms per request of `n` POSTs of the bench bodies through the WSGI application."""
            statuses: list[str] = []
            started = time.process_time()
            for i in range(n):
                environ = _environ(path, bodies[i % len(bodies)], auth)
                response = application(environ, lambda status, headers, exc_info=None: statuses.append(status))
                b"".join(response)
                response.close()
            spent = time.process_time() - started
            if any(not s.startswith("200") for s in statuses):
                sys.exit(f"{path}: not every answer was 200: {Counter(statuses)}")
            return 1000 * spent / n

        requests(route, key, 300)  # warm-up: connections, caches, the plan of the INSERT
        requests("/bench/bare", None, 300)
        bare, routed = [], []
        for _ in range(ROUNDS):
            bare.append(requests("/bench/bare", None, REQUESTS))
            routed.append(requests(route, key, REQUESTS))
        bare_ms, route_ms = statistics.median(bare), statistics.median(routed)
        bench.say(f"\n== 1. CPU per request in this process ({ROUNDS} rounds of {REQUESTS}, median)")
        bench.say(f"bare view            {bare_ms:6.3f} ms   (rounds: {_list(bare)})")
        bench.say(f"user_activities      {route_ms:6.3f} ms   (rounds: {_list(routed)})")
        own = route_ms - bare_ms
        bench.say(f"the route's own work {own:6.3f} ms   CPU ratio bare/route {bare_ms / route_ms:.2f}")

        steps = _steps_timed(lambda: requests(route, key, REQUESTS))
        bench.say(f"\n== 2. the route's steps (CPU ms per request, {REQUESTS} requests, wrapped)")
        for name, ms in steps:
            bench.say(f"{name:<24}{ms:7.3f} ms")

        bench.say(f"\n== 3. PostgreSQL per statement ({STATEMENTS} each; server CPU from /proc, client CPU here)")
        for line in _database_costs(bench.fixture["datamart_id"]):
            bench.say(line)
    return 0


def _environ(path: str, body: bytes, auth: str | None) -> dict[str, Any]:
    """The WSGI environ gunicorn would pass, built by hand: building it with RequestFactory (as bench/scale.py does)
    would add the test tool's own CPU to both figures."""
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
    }
    if auth:
        environ["HTTP_AUTHORIZATION"] = auth
    return environ


def _steps_timed(run: Callable[[], float]) -> list[tuple[str, float]]:
    """Runs `run` with each step of the route wrapped by a CPU timer; nested steps are timed inside their callers."""
    from apps.activities import inbox, views

    spent: dict[str, float] = {}
    originals: list[tuple[Any, str, Any]] = []

    def wrap(module: Any, name: str) -> None:
        original = getattr(module, name)

        def timed(*a: Any, **kw: Any) -> Any:
            started = time.process_time()
            try:
                return original(*a, **kw)
            finally:
                spent[name] = spent.get(name, 0.0) + time.process_time() - started

        originals.append((module, name, original))
        setattr(module, name, timed)

    for name in VIEW_STEPS:
        wrap(views, name)
    for name in INBOX_STEPS:
        wrap(inbox, name)
    try:
        run()
    finally:
        for module, name, original in originals:
            setattr(module, name, original)
    return [(name, 1000 * seconds / REQUESTS) for name, seconds in sorted(spent.items(), key=lambda x: -x[1])]


def _database_costs(datamart_id: int) -> Iterator[str]:
    from django.db import connection

    from apps.activities import inbox
    from apps.activities.canonical import CanonicalPayload
    from apps.activities.models import Source

    payload = cast(
        CanonicalPayload,
        {"activity": {"ts": 1, "type": "SITE_VISIT", "events": []}, "identifiers": [], "choice_updates": []},
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    stat = Path(f"/proc/{backend}/stat")
    if not stat.exists():
        yield "(PostgreSQL runs on another machine: its CPU is not readable here)"
        return

    def select_one() -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")

    def insert_one() -> None:
        inbox._insert_one_postgresql(datamart_id, Source.ACTIVITY, None, payload)

    def insert_four() -> None:
        inbox._insert_many_postgresql(datamart_id, Source.ACTIVITY, [(payload, None)] * 4, _now())

    cases: list[tuple[str, Callable[[], None], int]] = [
        ("SELECT 1 (one round trip)", select_one, 1),
        ("the route's INSERT, 1 payload", insert_one, 1),
        ("INSERT of 4 payloads, per payload", insert_four, 4),
    ]
    yield f"{'statement':<40}{'server ms':>10}{'client ms':>10}{'wall ms':>9}"
    for label, call, rows in cases:
        server, client, wall = _costs(stat, call, rows)
        yield f"{label:<40}{server:>10.3f}{client:>10.3f}{wall:>9.3f}"
    with _synchronous_commit_off():
        server, client, wall = _costs(stat, insert_one, 1)
    yield f"{'the same, synchronous_commit off (*)':<40}{server:>10.3f}{client:>10.3f}{wall:>9.3f}"
    yield "(*) measured only, to show what the WAL flush of each commit costs; the product keeps it on."


def _costs(stat: Path, call: Callable[[], None], rows: int) -> tuple[float, float, float]:
    """Server CPU, client CPU and wall time in ms per row of STATEMENTS rows written (or statements run)."""
    count = STATEMENTS // rows
    for _ in range(50):
        call()
    server_before, client_before, wall_before = _server_cpu(stat), time.process_time(), time.perf_counter()
    for _ in range(count):
        call()
    n = count * rows
    return (
        1000 * (_server_cpu(stat) - server_before) / n,
        1000 * (time.process_time() - client_before) / n,
        1000 * (time.perf_counter() - wall_before) / n,
    )


def _server_cpu(stat: Path) -> float:
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


@contextmanager
def _synchronous_commit_off() -> Iterator[None]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET synchronous_commit")


def _now() -> Any:
    from django.utils import timezone

    return timezone.now()


def _list(values: list[float]) -> str:
    return ", ".join(f"{v:.3f}" for v in values)


if __name__ == "__main__":
    sys.exit(main())
