#!/usr/bin/env python
"""End to end (issue 13, point 4): Segment messages posted as fast as they are accepted, processed by bin/run's
process layout on PostgreSQL and Redis, timed from the first request to the last message processed.

    bench/e2e.py                         # 200,000 messages, 2,000 requests of 100, about 2 minutes
    bench/e2e.py --messages 20000        # a quick run
    bench/e2e.py --plot bench/e2e-backlog.png --json e2e.json

The processes are bin/run's: gunicorn with 2 workers of 4 threads, one Celery worker at its default concurrency
(bin/run's WORKER_CONCURRENCY, 2) and Celery beat (the inbox sweep), on the bench database and queue of bench/ingest
(see bench/README.md: `tc_bench_e2e` by default, emptied; its own Celery queue), with their default settings,
backpressure included (INBOX_BACKLOG_LIMIT, apps/activities/backpressure.py). A client of --connections keep-alive
connections posts each pre-generated body (100 messages of the realistic Segment mix, each with its `messageId`, as
the Segment libraries send them) once, and retries a 429 after its Retry-After, as those libraries do. Every second
the script reads how many messages the inbox holds and how many are pending: the backlog curve, plotted as a PNG.
Targets: all processed; >= 2,500 messages/s from the first request to the last processed; the backlog never above
what 10 s of accepting adds.
"""

from __future__ import annotations

import base64
import http.client
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if __name__ == "__main__":
    VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
    if VENV_PYTHON.exists() and Path(sys.prefix).resolve() != (ROOT / ".venv").resolve():
        os.execv(str(VENV_PYTHON), [str(VENV_PYTHON), __file__, *sys.argv[1:]])
    sys.path.insert(0, str(ROOT))

from bench.ingest_lib import QUEUE, Bench, Target, parse_args  # noqa: E402
from bench.segment_batch import MESSAGES_PER_REQUEST, Messages  # noqa: E402

TARGET_RATE = 2_500
BACKLOG_SECONDS_OF_ACCEPTING = 10


def main() -> int:
    extra = _extra_args()
    args = parse_args([*extra.rest, "--database", extra.database])
    with Bench(args) as bench:
        return run(bench, extra)


class _Extra:
    def __init__(self) -> None:
        self.messages = 200_000
        self.worker_concurrency = int(os.environ.get("WORKER_CONCURRENCY", "2"))  # bin/run's default
        self.plot: str | None = str(ROOT / "bench" / "e2e-backlog.png")
        self.database = "tc_bench_e2e"
        self.rest: list[str] = []


def _extra_args() -> _Extra:
    """This script's own options; the others are bench/ingest's (ports, gunicorn, wrk, --json)."""
    extra = _Extra()
    argv = sys.argv[1:]
    i = 0
    while i < len(argv):
        name = argv[i]
        if name in ("--messages", "--worker-concurrency", "--plot", "--database") and i + 1 < len(argv):
            value = argv[i + 1]
            if name == "--messages":
                extra.messages = int(value)
            elif name == "--worker-concurrency":
                extra.worker_concurrency = int(value)
            elif name == "--plot":
                extra.plot = value or None
            else:
                extra.database = value
            i += 2
            continue
        if name in ("-h", "--help"):
            print(__doc__)
            print("Own options: --messages N (200000), --worker-concurrency N (2), --plot FILE.png ('' for none),")
            print("--database NAME (tc_bench_e2e). Others as bench/ingest --help.")
            sys.exit(0)
        extra.rest.append(name)
        i += 1
    return extra


def run(bench: Bench, extra: _Extra) -> int:
    a = bench.args
    requests = extra.messages // MESSAGES_PER_REQUEST
    total = requests * MESSAGES_PER_REQUEST
    bench.say(
        f"\n== end to end: {total} Segment messages in {requests} requests of {MESSAGES_PER_REQUEST}, client -c"
        f"{a.connections}; gunicorn {a.web_workers} x {a.threads} threads, one Celery worker (concurrency"
        f" {extra.worker_concurrency}) and beat"
    )
    bench._truncate()
    bench._broker_purge()
    messages = Messages(a.users, seed=17)
    now = datetime.now(UTC)
    bodies = bench.var_dir / "bodies-e2e.jsonl"
    # Sent over the last `requests` seconds, as a site's traffic would be (one time for every message would pile up
    # every activity on one key of the event-time indexes).
    start = now - timedelta(seconds=requests)
    bodies.write_text(
        "\n".join(messages.batch_body(start + timedelta(seconds=i), with_ids=True) for i in range(requests)) + "\n"
    )

    bench.gunicorn_start()
    worker_log = bench.var_dir / "e2e-worker.log"
    celery = [sys.executable, "-m", "celery", "-A", "trackingconsole"]
    worker = bench.spawn(
        [*celery, "worker", "-l", "info", "-Q", QUEUE, "--concurrency", str(extra.worker_concurrency)],
        worker_log,
    )
    schedule = bench.var_dir / "e2e-celerybeat-schedule"
    bench.spawn(
        [*celery, "beat", "-l", "info", "-s", str(schedule)],
        bench.var_dir / "e2e-beat.log",
    )
    booted = time.monotonic()
    while " ready." not in worker_log.read_text(errors="replace"):
        if worker.poll() is not None or time.monotonic() - booted > 60:
            sys.exit(f"the Celery worker did not start; see {worker_log}")
        time.sleep(0.2)

    samples: list[tuple[float, int, int]] = []  # (seconds since the first request, in the inbox, pending)
    stop = threading.Event()
    t0 = time.monotonic()
    sampler = threading.Thread(target=_sample, args=(samples, t0, stop), daemon=True)
    basic = "Basic " + base64.b64encode(f"{bench.fixture['key']}:".encode()).decode()
    sampler.start()
    posted = _post_all(bodies.read_text().splitlines(), a.port, basic, a.connections)
    accepted_at = posted.last_accepted_at - t0
    deadline = time.monotonic() + a.drain_timeout
    while time.monotonic() < deadline:
        if samples and samples[-1][1] >= total and samples[-1][2] == 0:
            break
        time.sleep(0.2)
    stop.set()
    sampler.join()

    from apps.activities.models import InboxPayload, InboxStatus

    processed = InboxPayload.objects.filter(status=InboxStatus.PROCESSED).count()
    failed = InboxPayload.objects.filter(status=InboxStatus.FAILED).count()
    done_at = samples[-1][0]
    accept_rate = total / accepted_at
    e2e_rate = processed / done_at
    max_backlog = max(pending for _, _, pending in samples)
    backlog_bound = BACKLOG_SECONDS_OF_ACCEPTING * accept_rate
    bench.say(
        f"client: {posted.accepted} requests accepted, {posted.refused} answered 429 and retried after Retry-After"
        f" (backpressure), {posted.failed} failed; accepted requests p50 {posted.percentile_ms(50):.1f} ms,"
        f" p99 {posted.percentile_ms(99):.1f} ms"
    )
    bench.say(f"accepted {total} messages in {accepted_at:.1f} s = {accept_rate:.0f} messages/s")
    bench.say(
        f"processed {processed} ({failed} failed) by {done_at:.1f} s after the first request = {e2e_rate:.0f}"
        f" messages/s; largest backlog {max_backlog} (10 s of accepting: {backlog_bound:.0f})"
    )
    bench.figures["e2e"] = {
        "messages": total,
        "accepted_s": round(accepted_at, 2),
        "accept_per_s": round(accept_rate, 1),
        "processed": processed,
        "failed": failed,
        "processed_s": round(done_at, 2),
        "end_to_end_per_s": round(e2e_rate, 1),
        "max_backlog": max_backlog,
        "backlog_bound": round(backlog_bound),
        "requests_refused_429": posted.refused,
        "requests_failed": posted.failed,
        "curve": [[round(t, 2), n, pending] for t, n, pending in samples],
    }
    bench.targets.append(Target("end to end: messages all processed", processed, total, True))
    bench.targets.append(Target("end to end: messages/s, first request to last processed", e2e_rate, TARGET_RATE, True))
    bench.targets.append(Target("end to end: largest backlog (messages)", max_backlog, backlog_bound, False))
    if extra.plot:
        _plot(
            samples, backlog_bound, accepted_at, Path(extra.plot), title=f"{total} Segment messages, {e2e_rate:.0f}/s"
        )
        bench.say(f"backlog curve: {extra.plot}")
    return bench.report()


@dataclass
class _Posted:
    accepted: int = 0
    refused: int = 0  # 429s, each retried after its Retry-After
    failed: int = 0
    last_accepted_at: float = 0.0
    latencies: list[float] = field(default_factory=list)  # seconds, of the accepted requests

    def percentile_ms(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))] * 1000 if ordered else 0.0


def _post_all(bodies: list[str], port: int, auth: str, connections: int) -> _Posted:
    """POSTs every body once to /v1/batch on `connections` keep-alive connections, as fast as they are accepted.

    A 429 (backpressure) is retried after its Retry-After, as the Segment libraries retry it (their tests:
    tests/dialects/segment/test_clients.py); any other answer than 200 counts as failed. The client does little work
    per request (the bodies are ready), so it takes a few percent of a core.
    """
    posted = _Posted()
    lock = threading.Lock()
    queue = iter(range(len(bodies)))
    headers = {"Content-Type": "application/json", "Authorization": auth}

    def connection_loop() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while True:
            with lock:
                index = next(queue, None)
            if index is None:
                break
            body = bodies[index].encode()
            while True:
                started = time.monotonic()
                conn.request("POST", "/v1/batch", body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                finished = time.monotonic()
                if response.status != 429:
                    break
                with lock:
                    posted.refused += 1
                time.sleep(float(response.getheader("Retry-After") or 1))
            with lock:
                if response.status == 200:
                    posted.accepted += 1
                    posted.latencies.append(finished - started)
                    posted.last_accepted_at = max(posted.last_accepted_at, finished)
                else:
                    posted.failed += 1
        conn.close()

    threads = [threading.Thread(target=connection_loop) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return posted


def _sample(samples: list[tuple[float, int, int]], t0: float, stop: threading.Event) -> None:
    """Every second: how many messages the inbox holds and how many wait (one query, its own connection)."""
    from django.db import connection

    from apps.activities.models import InboxPayload

    table = InboxPayload._meta.db_table
    try:
        while not stop.is_set():
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT count(*), count(*) FILTER (WHERE status = 'PENDING') FROM {table}")
                held, pending = cursor.fetchone()
            samples.append((time.monotonic() - t0, held, pending))
            stop.wait(max(0.0, 1.0 - (time.monotonic() - t0) % 1.0))
    finally:
        connection.close()


def _plot(samples: list[tuple[float, int, int]], bound: float, accepted_at: float, path: Path, *, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    seconds = [t for t, _, _ in samples]
    fig, ax = plt.subplots(figsize=(9, 4.5), dpi=110)
    ax.plot(seconds, [n for _, n, _ in samples], label="accepted (in the inbox)")
    ax.plot(seconds, [n - p for _, n, p in samples], label="processed")
    ax.plot(seconds, [p for _, _, p in samples], label="backlog (pending)", linewidth=2)
    ax.axhline(bound, color="grey", linestyle="--", label="10 s of accepting")
    ax.axvline(accepted_at, color="grey", linestyle=":", label="last request answered")
    ax.set_xlabel("seconds since the first request")
    ax.set_ylabel("messages")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
