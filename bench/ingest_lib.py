"""The machinery of bench/ingest: a dedicated database, gunicorn and a Celery worker as deployed, wrk, a drain.

A scenario is data (`HttpScenario`: a path, a key, pre-generated bodies); `Bench.add_http` registers it and
`Bench.run_http` measures every registered scenario in interleaved rounds, so that each is measured in the same
conditions as the bare JSON route it is compared with. `Bench.drain` fills the inbox with canonical payloads made
by the real mediarithmics translator and times one Celery worker process until the inbox is empty.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from uuid_utils.compat import uuid7

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "bench"
WRK_SCRIPT = BENCH_DIR / "wrk_post.lua"
QUEUE = "tc-bench"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/tc_bench"
DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/7"
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
WRK_MISSING = "wrk is not installed. On Debian/Ubuntu: `apt-get install -y wrk` (as root), then run bench/ingest again."


# --- options ------------------------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="bench/ingest",
        description="Ingestion benchmark: route vs bare Django JSON view (wrk), then the drain rate of one worker.",
    )
    p.add_argument("--database", default="tc_bench", help="name of the bench database (dropped data!)")
    p.add_argument("--port", type=int, default=18701, help="gunicorn port (default 18701)")
    p.add_argument("--web-workers", type=int, default=2)
    p.add_argument("--worker-class", default="gthread", choices=["gthread", "sync"])
    p.add_argument("--threads", type=int, default=4, help="threads per gthread worker")
    p.add_argument("--connections", type=int, default=8, help="wrk connections (concurrent clients)")
    p.add_argument("--wrk-threads", type=int, default=1)
    p.add_argument("--duration", type=int, default=10, help="seconds per HTTP measurement")
    p.add_argument("--warmup", type=int, default=3, help="seconds of warm-up per HTTP scenario")
    p.add_argument("--rounds", type=int, default=2, help="interleaved rounds over the HTTP scenarios")
    p.add_argument("--activities", type=int, default=100_000, help="drain backlog size")
    p.add_argument("--users", type=int, default=20_000, help="distinct users in the drain backlog")
    p.add_argument("--merge-share", type=float, default=0.03, help="share of activities joining two users")
    p.add_argument("--special-share", type=float, default=0.03, help="share with a profile or choice event")
    p.add_argument("--drain-timeout", type=int, default=300, help="give up the drain after this many seconds")
    p.add_argument("--skip-http", action="store_true")
    p.add_argument("--skip-drain", action="store_true")
    p.add_argument("--profile", metavar="DIR", help="record py-spy profiles (collapsed stacks) into DIR")
    p.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    return p.parse_args(argv)


# --- the synthetic population -------------------------------------------------------------------------------------
@dataclass
class Population:
    """Activities of `users` people; each keeps its agent id, some also send an account id or an e-mail hash.

    `merge_share` of the activities carry the agent ids of two users already seen (joining their two points);
    `special_share` carry a `$set_user_profile_properties` or `$set_user_choice` event (the one-by-one path).
    """

    users: int
    processing_id: int
    merge_share: float = 0.03
    special_share: float = 0.03
    seed: int = 1
    counts: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.seen: list[int] = []
        self.seen_set: set[int] = set()

    def _see(self, user: int) -> None:
        if user not in self.seen_set:
            self.seen_set.add(user)
            self.seen.append(user)

    def _count(self, kind: str) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1

    def activity(self, ts: int) -> dict[str, Any]:
        rng = self.rng
        user = rng.randrange(self.users)
        identifiers: list[dict[str, Any]] = [{"$type": "USER_AGENT", "$user_agent_id": f"vec:{user}"}]
        roll = rng.random()
        events: list[dict[str, Any]] = [
            {
                "$ts": ts,
                "$event_name": "$page_view",
                "$properties": {"$url": f"https://shop.example/p/{rng.randrange(500)}", "$referrer": ""},
            }
        ]
        if roll < self.merge_share and len(self.seen) > 10:
            other = self.seen[rng.randrange(len(self.seen))]
            while other == user:
                other = self.seen[rng.randrange(len(self.seen))]
            identifiers.append({"$type": "USER_AGENT", "$user_agent_id": f"vec:{other}"})
            self._count("merge")
        elif roll < self.merge_share + self.special_share / 2:
            props = {"$user_account_id": f"acc-{user}", "plan": rng.choice(["free", "pro"]), "visits": ts % 97}
            events.append({"$ts": ts, "$event_name": "$set_user_profile_properties", "$properties": props})
            self._count("profile")
        elif roll < self.merge_share + self.special_share:
            choice = {"$processing_id": str(self.processing_id), "$choice_acceptance_value": rng.random() < 0.7}
            events.append({"$ts": ts, "$event_name": "$set_user_choice", "$properties": choice})
            self._count("choice")
        else:
            self._count("plain")
        extra = rng.random()
        if extra < 0.2:
            identifiers.append({"$type": "USER_ACCOUNT", "$user_account_id": f"acc-{user}"})
        elif extra < 0.25:
            digest = hashlib.sha256(f"user{user}@example.com".encode()).hexdigest()
            identifiers.append({"$type": "USER_EMAIL", "$hash": digest})
        self._see(user)
        return {
            "$type": "SITE_VISIT",
            "$ts": ts,
            "$session_status": "IN_SESSION",
            "$site_id": "1042",
            "$user_identifiers": identifiers,
            "$location": {"$country": "fr", "$city": "Paris"},
            "$events": events,
        }

    def activities(self, n: int, *, start_ts: int = 1_700_000_000_000) -> list[dict[str, Any]]:
        return [self.activity(start_ts + i * 37) for i in range(n)]


# --- results ------------------------------------------------------------------------------------------------------
@dataclass
class HttpScenario:
    """One route measured with wrk. `items_per_request` turns requests into activities (batch routes)."""

    name: str
    path: str
    bodies: list[str]
    auth: str | None = None
    items_per_request: int = 1
    content_type: str = "application/json"
    baseline: str | None = None  # name of the scenario it is compared with (the bare route)
    min_ratio: float | None = None
    max_p99_ms: float | None = None
    min_items_per_s: float | None = None
    connections: int | None = None  # wrk connections for this scenario; None: --connections
    what: str = "activities"
    commits: bool = True  # each 2xx commits `items_per_request` inbox payloads (checked against the database)
    # Letters that wrk replaces, request by request, with a string unique to the request (bench/wrk_post.lua): for
    # ids a client draws itself, so that replaying a body is not a duplicate.
    unique_token: str | None = None


@dataclass
class HttpRun:
    requests: int
    ok: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: int
    cpu: CpuUse | None = None

    @property
    def ok_per_s(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0


@dataclass
class CpuUse:
    """CPU seconds (user + system) spent during a measurement by the web server's processes and by the database's
    backends: per request, what the route costs each tier (the bare route's figures are gunicorn's and Django's)."""

    web_s: float
    db_s: float | None  # None: a backend ended during the measurement (CONN_MAX_AGE), taking its CPU figure along

    def per_request_ms(self, requests: int) -> tuple[float, float | None]:
        if not requests:
            return 0.0, None
        return 1000 * self.web_s / requests, None if self.db_s is None else 1000 * self.db_s / requests


@dataclass
class Target:
    what: str
    value: float
    limit: float
    higher_is_better: bool

    @property
    def met(self) -> bool:
        return self.value >= self.limit if self.higher_is_better else self.value <= self.limit

    def line(self) -> str:
        op = ">=" if self.higher_is_better else "<="
        return f"{self.what}: {self.value:.2f} (target {op} {self.limit:g}) {'MET' if self.met else 'MISSED'}"


# --- the bench ----------------------------------------------------------------------------------------------------
class Bench:
    def __init__(self, args: argparse.Namespace, *, bench_endpoints_here: bool = False) -> None:
        """`bench_endpoints_here`: this process mounts the bare route too (bench/accept_profile.py calls it)."""
        self.args = args
        self.bench_endpoints_here = bench_endpoints_here
        self.scenarios: list[HttpScenario] = []
        self.http_runs: dict[str, list[HttpRun]] = {}
        self.processes: list[subprocess.Popen[bytes]] = []
        self.targets: list[Target] = []
        self.figures: dict[str, Any] = {}
        self.var_dir = Path(os.environ.get("TRACKINGCONSOLE_VAR_DIR") or "/tmp/tc-bench")
        self.var_dir.mkdir(parents=True, exist_ok=True)
        server = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
        if not server.startswith(("postgres://", "postgresql://")):
            sys.exit("bench/ingest needs PostgreSQL: set DATABASE_URL=postgres://user@host:port/anything")
        parts = urllib.parse.urlsplit(server)
        self.database_url = urllib.parse.urlunsplit(parts._replace(path="/" + args.database))
        self.admin_url = urllib.parse.urlunsplit(parts._replace(path="/postgres"))
        self.broker_url = os.environ.get("CELERY_BROKER_URL") or DEFAULT_BROKER_URL
        if not self.broker_url.startswith("redis://"):
            sys.exit("bench/ingest needs a Redis broker: set CELERY_BROKER_URL=redis://host:port/db")
        self.wrk = shutil.which("wrk")
        if self.wrk is None and not args.skip_http:
            sys.exit(WRK_MISSING)
        self.child_env = dict(os.environ)
        self.child_env.update(
            DJANGO_SETTINGS_MODULE="trackingconsole.settings",
            DATABASE_URL=self.database_url,
            CELERY_BROKER_URL=self.broker_url,
            CELERY_TASK_DEFAULT_QUEUE=QUEUE,
            TRACKINGCONSOLE_VAR_DIR=str(self.var_dir),
            BENCH_ENDPOINTS="1",
            DEBUG="false",
            LOG_LEVEL="WARNING",
        )
        self.child_env.pop("CACHE_URL", None)

    # -- lifecycle
    def __enter__(self) -> Bench:
        signal.signal(signal.SIGTERM, _raise_exit)
        self.say(
            f"database {self.database_url} | broker {self.broker_url} queue {QUEUE} | var {self.var_dir}"
            f" | load average {_load()}"
        )
        self._database_create()
        os.environ.update(self.child_env)
        os.environ["BENCH_ENDPOINTS"] = "1" if self.bench_endpoints_here else "0"
        import django

        django.setup()
        from django.core.management import call_command

        started = time.monotonic()
        call_command("migrate", verbosity=0, interactive=False)
        self.say(f"migrated in {time.monotonic() - started:.1f} s")
        self._broker_purge()
        self.fixture = self._fixture()
        return self

    def __exit__(self, *exc: object) -> None:
        for proc in reversed(self.processes):
            _stop(proc)
        self.processes.clear()
        with contextlib.suppress(Exception):
            self._broker_purge()

    @staticmethod
    def say(text: str) -> None:
        print(text, flush=True)

    def _database_create(self) -> None:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [self.args.database]).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{self.args.database}"')

    def _broker_purge(self) -> None:
        """Forgets this bench's queue and the drain nudge key (its own keys only, in a shared Redis)."""
        import redis

        client = redis.Redis.from_url(self.broker_url)
        keys = [QUEUE, f"_kombu.binding.{QUEUE}", f"_kombu.binding_permanent.{QUEUE}"]
        keys += client.keys("*inbox:drain-queued")
        client.delete(*keys)
        client.close()

    def _truncate(self, *labels: str) -> None:
        """Empties the tables of these apps, and of any table that points at them (CASCADE)."""
        from django.apps import apps
        from django.db import connection

        labels = labels or ("activities", "userpoints", "profiles", "choices")
        tables = [m._meta.db_table for label in labels for m in apps.get_app_config(label).get_models()]
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {', '.join(tables)} CASCADE")

    def _fixture(self) -> dict[str, Any]:
        """Empties the bench database and makes one datamart with a processing and an ingest key."""
        from apps.datamarts.models import Compartment
        from apps.datamarts.services import api_key_create, datamart_create, processing_create

        self._truncate("datamarts", "activities", "userpoints", "profiles", "choices")
        datamart = datamart_create(name="bench")
        processing = processing_create(datamart=datamart, name="bench consent", legal_basis="CONSENT")
        key = api_key_create(datamart=datamart, name="bench", scopes=["ingest"])
        compartments = list(Compartment.objects.filter(datamart=datamart).values_list("pk", "is_default"))
        return {
            "datamart_id": datamart.pk,
            "processing_id": processing.pk,
            "key": key.raw_key,
            "compartment_ids": [pk for pk, _ in compartments],
            "default_compartment_id": next(pk for pk, d in compartments if d),
        }

    def spawn(self, args: list[str], log: Path) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            args,
            cwd=ROOT,
            env=self.child_env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so that stopping it stops its children too
        )
        self.processes.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen[bytes]) -> None:
        _stop(proc)
        if proc in self.processes:
            self.processes.remove(proc)

    # -- HTTP
    def add_http(self, scenario: HttpScenario) -> HttpScenario:
        self.scenarios.append(scenario)
        return scenario

    def bodies_file(self, scenario: HttpScenario) -> Path:
        path = self.var_dir / f"bodies-{scenario.name}.jsonl"
        path.write_text("\n".join(scenario.bodies) + "\n")
        return path

    def gunicorn_start(self) -> subprocess.Popen[bytes]:
        a = self.args
        cmd = [sys.executable, "-m", "gunicorn", "trackingconsole.wsgi", "--bind", f"127.0.0.1:{a.port}"]
        cmd += ["--workers", str(a.web_workers), "--worker-class", a.worker_class]
        if a.worker_class == "gthread":
            cmd += ["--threads", str(a.threads)]
        proc = self.spawn(cmd, self.var_dir / "gunicorn.log")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                sys.exit(f"gunicorn exited; see {self.var_dir / 'gunicorn.log'}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{a.port}/healthz", timeout=2) as answer:
                    if answer.status == 200:
                        return proc
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.3)
        sys.exit("gunicorn did not answer /healthz within 60 s")

    def wrk_run(self, scenario: HttpScenario, seconds: int, bodies: Path) -> HttpRun:
        a = self.args
        env = dict(os.environ)
        env.update(BENCH_PATH=scenario.path, BENCH_BODIES=str(bodies), BENCH_CONTENT_TYPE=scenario.content_type)
        env["BENCH_AUTH"] = scenario.auth or ""
        env["BENCH_UNIQUE"] = scenario.unique_token or ""
        env["BENCH_RUN"] = uuid.uuid4().hex[:12]  # each wrk run (warm-up, rounds) sends ids of its own
        assert self.wrk is not None
        connections = scenario.connections or a.connections
        cmd = [self.wrk, "-t", str(a.wrk_threads), "-c", str(connections), "-d", f"{seconds}s"]
        cmd += ["--timeout", "5s", "-s", str(WRK_SCRIPT), f"http://127.0.0.1:{a.port}"]
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=seconds + 60, check=False)
        line = next((x for x in out.stdout.splitlines() if x.startswith("BENCH_JSON ")), None)
        if out.returncode != 0 or line is None:
            sys.exit(f"wrk failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
        r = json.loads(line.removeprefix("BENCH_JSON "))
        errors = r["connect_errors"] + r["read_errors"] + r["write_errors"] + r["timeouts"]
        return HttpRun(
            requests=r["requests"],
            ok=r["requests"] - r["non_2xx"] - r["read_errors"],
            seconds=r["duration_us"] / 1e6,
            p50_ms=r["p50_us"] / 1000,
            p90_ms=r["p90_us"] / 1000,
            p99_ms=r["p99_us"] / 1000,
            max_ms=r["max_us"] / 1000,
            errors=errors + r["non_2xx"],
        )

    def _cpu_snapshot(self, server_pid: int) -> dict[str, dict[int, float]]:
        """CPU seconds so far of the web server's processes (the master and its workers) and of the backends of the
        bench database (PostgreSQL on this machine; none are found when it runs elsewhere)."""
        web: dict[int, float] = {}
        db: dict[int, float] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except (OSError, IndexError):
                continue  # gone meanwhile
            seconds = (int(stat[11]) + int(stat[12])) / _CLOCK_TICKS
            pid, ppid = int(entry.name), int(stat[1])
            if pid == server_pid or ppid == server_pid:
                web[pid] = seconds
            elif cmdline.startswith("postgres: ") and f" {self.args.database} " in cmdline:
                db[pid] = seconds
        return {"web": web, "db": db}

    @staticmethod
    def _cpu_used(before: dict[str, dict[int, float]], after: dict[str, dict[int, float]]) -> CpuUse:
        def used(tier: str) -> float:
            return sum(seconds - before[tier].get(pid, 0.0) for pid, seconds in after[tier].items())

        ended = set(before["db"]) - set(after["db"])
        return CpuUse(web_s=used("web"), db_s=None if ended else used("db"))

    def inbox_count(self) -> int:
        from apps.activities.models import InboxPayload

        return InboxPayload.objects.count()

    def run_http(self) -> None:
        a = self.args
        self.say(
            f"\n== HTTP: gunicorn {a.web_workers} workers ({a.worker_class}"
            + (f", {a.threads} threads each" if a.worker_class == "gthread" else "")
            + f"), wrk -t{a.wrk_threads} -c{a.connections}, {a.duration} s per measurement, {a.rounds} rounds"
        )
        files = {s.name: self.bodies_file(s) for s in self.scenarios}
        gunicorn = self.gunicorn_start()
        try:
            for s in self.scenarios:
                self.wrk_run(s, a.warmup, files[s.name])
            self.say(
                f"{'scenario':<24}{'round':>6}{'req/s':>9}{'items/s':>9}{'p50 ms':>8}{'p90 ms':>8}"
                f"{'p99 ms':>8}{'max ms':>8}{'errors':>8}{'web cpu':>9}{'db cpu':>8}  (CPU ms per request)"
            )
            for rnd in range(1, a.rounds + 1):
                for s in self.scenarios:
                    before = self.inbox_count()
                    profiler = (
                        self._profile_start(f"http-{s.name}-r{rnd}", gunicorn.pid, a.duration) if rnd == 1 else None
                    )
                    cpu_before = self._cpu_snapshot(gunicorn.pid)
                    run = self.wrk_run(s, a.duration, files[s.name])
                    run.cpu = self._cpu_used(cpu_before, self._cpu_snapshot(gunicorn.pid))
                    self._profile_stop(profiler)
                    committed = self.inbox_count() - before
                    self.http_runs.setdefault(s.name, []).append(run)
                    note = f"  ({committed} payloads committed)" if committed else ""
                    self.say(
                        f"{s.name:<24}{rnd:>6}{run.requests / run.seconds:>9.0f}"
                        f"{run.ok_per_s * s.items_per_request:>9.0f}{run.p50_ms:>8.1f}{run.p90_ms:>8.1f}"
                        f"{run.p99_ms:>8.1f}{run.max_ms:>8.1f}{run.errors:>8}{_cpu_cells(run)}{note}"
                    )
                    if s.commits and committed < run.ok * s.items_per_request:
                        self.say(f"  !! {run.ok} answers 2xx but only {committed} payloads committed")
        finally:
            self.stop(gunicorn)
        self._http_summary()

    def _http_summary(self) -> None:
        self.say("\n== HTTP summary (req/s: mean over rounds; p50: mean; p99: worst round)")
        means: dict[str, float] = {}
        for s in self.scenarios:
            runs = self.http_runs[s.name]
            rate = statistics.mean(r.ok_per_s for r in runs)
            means[s.name] = rate
            p50 = statistics.mean(r.p50_ms for r in runs)
            p99 = max(r.p99_ms for r in runs)
            errors = sum(r.errors for r in runs)
            fig: dict[str, Any] = {"ok_req_per_s": round(rate, 1), "p50_ms": round(p50, 2), "p99_ms": round(p99, 2)}
            fig["items_per_s"] = round(rate * s.items_per_request, 1)
            fig["errors"] = errors
            line = f"{s.name}: {rate:.0f} req/s 2xx"
            if s.items_per_request != 1:
                line += f" ({rate * s.items_per_request:.0f} {s.what}/s)"
            elif s.baseline:
                line += f" = {rate:.0f} accepted {s.what}/s"
            line += f", p50 {p50:.1f} ms, p99 {p99:.1f} ms, errors {errors}"
            measured = [(r.requests, r.cpu.web_s, r.cpu.db_s) for r in runs if r.cpu and r.cpu.db_s is not None]
            if measured:
                requests = sum(n for n, _, _ in measured)
                web_ms = 1000 * sum(web for _, web, _ in measured) / requests
                db_ms = 1000 * sum(db or 0.0 for _, _, db in measured) / requests
                fig["cpu_ms_per_request"] = {"web": round(web_ms, 3), "database": round(db_ms, 3)}
                line += f"; CPU per request: web {web_ms:.2f} ms + database {db_ms:.2f} ms"
            if s.connections:
                line += f" ({s.connections} connections)"
            if s.baseline and s.baseline in means:
                ratio = rate / means[s.baseline] if means[s.baseline] else 0.0
                fig["ratio_to_" + s.baseline] = round(ratio, 3)
                line += f"; ratio to {s.baseline} {ratio:.2f}"
                if s.min_ratio is not None:
                    self.targets.append(Target(f"{s.name} / {s.baseline} throughput ratio", ratio, s.min_ratio, True))
            if s.max_p99_ms is not None:
                self.targets.append(Target(f"{s.name} p99 latency (ms)", p99, s.max_p99_ms, False))
            if s.min_items_per_s is not None:
                self.targets.append(
                    Target(f"{s.name} {s.what} per second", rate * s.items_per_request, s.min_items_per_s, True)
                )
            self.figures[s.name] = fig
            self.say(line)

    # -- drain
    def fill_inbox(self) -> Population:
        """Empties the user data and fills the inbox with canonical payloads made by the real translator (COPY)."""
        from django.db import connection

        from apps.activities.mics import Compartments, translate_activity
        from apps.activities.models import InboxPayload, InboxStatus

        a = self.args
        fx = self.fixture
        self._truncate()
        self._broker_purge()
        started = time.monotonic()
        population = Population(
            users=a.users, processing_id=fx["processing_id"], merge_share=a.merge_share, special_share=a.special_share
        )
        compartments = Compartments(frozenset(fx["compartment_ids"]), fx["default_compartment_id"])
        received = datetime.now(UTC) - timedelta(hours=1)
        table = InboxPayload._meta.db_table
        columns = "id, datamart_id, source, unique_key, payload, received_at, status, attempts, last_error"
        with connection.cursor() as cursor, cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for i, body in enumerate(population.activities(a.activities)):
                payload, unique_key = translate_activity(body, compartments)
                copy.write_row(
                    (
                        uuid7(),  # as the routes draw them (apps/activities/inbox.py)
                        fx["datamart_id"],
                        "ACTIVITY",
                        unique_key,
                        json.dumps(payload),
                        received + timedelta(microseconds=i * 10),
                        InboxStatus.PENDING,
                        0,
                        "",
                    )
                )
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {table}")
        self.say(
            f"inbox filled with {a.activities} canonical payloads (real translator, COPY) in "
            f"{time.monotonic() - started:.1f} s; mix {population.counts}"
        )
        return population

    def drain(self, *, min_rate: float | None = None) -> None:
        from apps.activities.models import InboxPayload, InboxStatus, ProcessingError
        from apps.userpoints.models import HyperPointRefusal, UserPoint, UserPointMerge

        a = self.args
        self.say(
            f"\n== drain: {a.activities} activities over {a.users} users, one Celery worker process (concurrency 1)"
        )
        self.fill_inbox()
        done, left, elapsed = self.time_drain(name="drain", expected=a.activities)
        rate = done / elapsed
        stats = {
            "processed": InboxPayload.objects.filter(status=InboxStatus.PROCESSED).count(),
            "failed": InboxPayload.objects.filter(status=InboxStatus.FAILED).count(),
            "retrying": InboxPayload.objects.filter(status=InboxStatus.PENDING).count() - left,
            "user_points": UserPoint.objects.count(),
            "merges": UserPointMerge.objects.count(),
            "hyper_refusals": HyperPointRefusal.objects.count(),
            "processing_errors": ProcessingError.objects.count(),
        }
        self.say(f"drained {done} activities in {elapsed:.1f} s = {rate:.0f} activities/s; {stats}")
        self.figures["drain"] = {"activities": done, "seconds": round(elapsed, 2), "per_s": round(rate, 1), **stats}
        if min_rate is not None:
            self.targets.append(Target("drain rate of one worker process (activities/s)", rate, min_rate, True))

    def time_drain(self, *, name: str, expected: int) -> tuple[int, int, float]:
        """Starts one Celery worker process (concurrency 1), queues one drain task and times until none of the
        `expected` pending payloads is left (or the drain timeout). Returns (processed, left, seconds)."""
        from apps.activities.models import InboxPayload, InboxStatus
        from apps.activities.tasks import inbox_drain

        a = self.args
        log = self.var_dir / f"{name}-worker.log"
        cmd = [sys.executable, "-m", "celery", "-A", "trackingconsole", "worker", "-l", "info", "-Q", QUEUE]
        cmd += ["-c", "1", "-P", "prefork", "-n", f"bench-{name}-{uuid.uuid4().hex[:6]}@%h", "--without-gossip"]
        cmd += ["--without-mingle", "--without-heartbeat"]
        booted = time.monotonic()
        worker = self.spawn(cmd, log)
        try:
            while " ready." not in log.read_text(errors="replace"):
                if worker.poll() is not None or time.monotonic() - booted > 60:
                    sys.exit(f"the Celery worker did not start; see {log}")
                time.sleep(0.2)
            self.say(f"worker ready in {time.monotonic() - booted:.1f} s; queueing one drain task")
            pending = InboxPayload.objects.filter(status=InboxStatus.PENDING, next_attempt_at__isnull=True)
            t0 = time.monotonic()
            inbox_drain.apply_async()
            profiler = self._profile_start(name, worker.pid, a.drain_timeout)
            left = expected
            last_print = t0
            while left:
                time.sleep(0.25)
                left = pending.count()
                now = time.monotonic()
                if now - last_print >= 5:
                    done = expected - left
                    self.say(f"  {now - t0:5.1f} s: {done} processed ({done / (now - t0):.0f}/s), {left} pending")
                    last_print = now
                if now - t0 > a.drain_timeout:
                    self.say(f"  !! drain timed out after {a.drain_timeout} s with {left} payloads pending")
                    break
            elapsed = time.monotonic() - t0
            self._profile_stop(profiler)
        finally:
            self.stop(worker)
        return expected - left, left, elapsed

    # -- profiling
    def _profile_start(self, name: str, pid: int, seconds: int) -> subprocess.Popen[bytes] | None:
        if not self.args.profile:
            return None
        py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        out = Path(self.args.profile)
        out.mkdir(parents=True, exist_ok=True)
        cmd = [py_spy, "record", "--pid", str(pid), "--subprocesses", "--format", "raw", "--rate", "200"]
        cmd += ["--duration", str(seconds), "--output", str(out / f"{name}.txt")]
        return self.spawn(cmd, out / f"{name}.log")

    def _profile_stop(self, proc: subprocess.Popen[bytes] | None) -> None:
        if proc is not None:
            proc.send_signal(signal.SIGINT)  # py-spy writes what it has on SIGINT
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=30)
            self.stop(proc)

    # -- report
    def report(self) -> int:
        self.say(f"\n== targets (2-core machine; load average now {_load()})")
        for target in self.targets:
            self.say(target.line())
        if self.args.json:
            figures = {**self.figures, "targets": [t.__dict__ | {"met": t.met} for t in self.targets]}
            Path(self.args.json).write_text(json.dumps(figures, indent=2) + "\n")
        return 0


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _raise_exit(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# --- the scenarios of bench/ingest --------------------------------------------------------------------------------
def http_bodies(bench: Bench, n: int = 5000) -> list[str]:
    """Activities like those of the drain (one person each, same mix), as JSON lines."""
    population = Population(users=bench.args.users, processing_id=bench.fixture["processing_id"], seed=7)
    return [json.dumps(body) for body in population.activities(n)]


def bare_scenario(bench: Bench) -> HttpScenario:
    return HttpScenario(name="bare", path="/bench/bare", bodies=http_bodies(bench), what="requests", commits=False)


def mics_scenario(bench: Bench, *, connections: int | None = None) -> HttpScenario:
    """The route at --connections: its throughput against the bare view's (target >= 0.5); with `connections`,
    a second measurement at that concurrency, for the latency target (p99 <= 25 ms at 16 connections)."""
    return HttpScenario(
        name="mics_user_activities" + (f"_c{connections}" if connections else ""),
        path=f"/v1/datamarts/{bench.fixture['datamart_id']}/user_activities",
        bodies=http_bodies(bench),
        auth=bench.fixture["key"],
        baseline="bare",
        min_ratio=None if connections else 0.5,
        max_p99_ms=25.0 if connections else None,
        connections=connections,
    )


def _cpu_cells(run: HttpRun) -> str:
    if run.cpu is None:
        return ""
    web_ms, db_ms = run.cpu.per_request_ms(run.requests)
    return f"{web_ms:>9.2f}" + (f"{db_ms:>8.2f}" if db_ms is not None else f"{'-':>8}")
