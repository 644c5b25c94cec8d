#!/usr/bin/env python
"""What time-ordered payload ids save once the inbox is large; see bench/README.md. `bench/inbox_ids.py --help`.

Creates its own database (`tc_bench_ids` by default: dropped, created and migrated), fills the current month's inbox
partition with `--rows` processed payloads (6,000,000 by default: a primary key index of about 300 MB, more than
PostgreSQL's default shared_buffers of 128 MB), then times the inbox's INSERTs through the product's own functions
(apps/activities/inbox.py), alternating in rounds:

- `time-ordered`: as shipped, ids of UUID version 7 (`UUID7_SQL` for a batch, `uuid7()` for one payload);
- `random`: the same statements with random ids (version 4), as before: `UUID7_SQL` and `uuid7` swapped, for this
  process only, for `gen_random_uuid()` and `uuid.uuid4`.

For each: a Segment batch of 100 payloads without keys (the plain INSERT) and a single activity (one INSERT), the
database's CPU per statement (read from its backend's /proc entry: PostgreSQL on this machine), the WAL it wrote, and
the wall time. Each measurement starts right after a CHECKPOINT: the first change of a page after a checkpoint
writes the whole page to the WAL, which is where random ids cost most.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
if __name__ == "__main__" and VENV_PYTHON.exists() and Path(sys.prefix).resolve() != (ROOT / ".venv").resolve():
    os.execv(str(VENV_PYTHON), [str(VENV_PYTHON), __file__, *sys.argv[1:]])
sys.path.insert(0, str(ROOT))

from bench.scale import database_recreate, django_setup  # noqa: E402

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
RANDOM_ID_SQL = "(CASE WHEN %s::text IS NULL THEN NULL ELSE gen_random_uuid() END)"  # takes UUID7_SQL's parameter


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=6_000_000, help="payloads already in the inbox (default 6,000,000)")
    parser.add_argument("--database", default="tc_bench_ids", help="the bench's own database, dropped first")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batches", type=int, default=300, help="batches of 100 per measurement")
    parser.add_argument("--singles", type=int, default=3000, help="single payloads per measurement")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    database_recreate(args.database)
    django_setup(args.database)
    from django.core.management import call_command
    from django.db import connection

    from apps.activities import inbox
    from apps.activities.models import InboxPayload, Source
    from apps.datamarts.services import datamart_create

    call_command("migrate", verbosity=0)
    datamart_id = datamart_create(name="bench ids").pk
    table = InboxPayload._meta.db_table
    started = time.monotonic()
    with connection.cursor() as cursor:
        # Processed payloads spread over the month so far: what a busy month leaves behind.
        cursor.execute(
            f"INSERT INTO {table} (id, datamart_id, source, unique_key, payload, received_at, status, attempts,"
            " last_error, processed_at)"
            " SELECT gen_random_uuid(), %s, 'SEGMENT', NULL, '{\"activity\": null}', t, 'PROCESSED', 1, '', t"
            " FROM (SELECT date_trunc('month', now()) + (now() - date_trunc('month', now())) * g / %s AS t"
            "       FROM generate_series(1, %s) AS g) AS s",
            [datamart_id, args.rows + 1, args.rows],
        )
        cursor.execute(f"VACUUM ANALYZE {table}")
        cursor.execute(f"SELECT pg_size_pretty(pg_indexes_size('{table}_p{datetime.now(UTC):%Y%m}'))")
        indexes_size = cursor.fetchone()[0]
        cursor.execute("SHOW shared_buffers")
        shared_buffers = cursor.fetchone()[0]
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    print(
        f"inbox filled with {args.rows:,} payloads in {time.monotonic() - started:.0f} s; the month's indexes:"
        f" {indexes_size}, shared_buffers {shared_buffers}"
    )
    stat = Path(f"/proc/{backend}/stat")
    if not stat.exists():
        sys.exit("PostgreSQL runs on another machine: its CPU is not readable here")

    payloads = _segment_payloads()

    def batch() -> None:
        inbox._insert_many_postgresql(datamart_id, Source.SEGMENT, [(p, None) for p in payloads], _now())

    def single() -> None:
        inbox._insert_one_postgresql(datamart_id, Source.ACTIVITY, None, payloads[0])

    def wal() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn")
            return int(cursor.fetchone()[0])

    def measure(call: Callable[[], None], n: int) -> tuple[float, float, float]:
        with connection.cursor() as cursor:
            cursor.execute("CHECKPOINT")
        server, lsn, wall = _server_seconds(stat), wal(), time.perf_counter()
        for _ in range(n):
            call()
        return (
            1000 * (_server_seconds(stat) - server) / n,
            (wal() - lsn) / n / 1024,
            1000 * (time.perf_counter() - wall) / n,
        )

    results: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    for round_number in range(1, args.rounds + 1):
        for ids in ("time-ordered", "random"):
            with _ids(inbox, ids):
                results.setdefault(("batch of 100", ids), []).append(measure(batch, args.batches))
                results.setdefault(("single", ids), []).append(measure(single, args.singles))
        print(f"round {round_number} done")

    header = f"{'statement':<14}{'ids':<14}{'db CPU ms':>11}{'WAL KiB':>10}{'wall ms':>10}"
    print(f"\n{header}   (mean of {args.rounds} rounds)")
    for statement in ("batch of 100", "single"):
        means = {}
        for ids in ("time-ordered", "random"):
            runs = results[(statement, ids)]
            means[ids] = [sum(r[i] for r in runs) / len(runs) for i in range(3)]
            cpu, kib, wall = means[ids]
            print(f"{statement:<14}{ids:<14}{cpu:>11.3f}{kib:>10.1f}{wall:>10.3f}")
        ordered, random_ = means["time-ordered"], means["random"]
        print(
            f"{statement:<14}{'ratio':<14}{ordered[0] / random_[0]:>11.2f}{ordered[1] / random_[1]:>10.2f}"
            f"{ordered[2] / random_[2]:>10.2f}   (time-ordered / random)"
        )
    return 0


class _ids:
    """Within the block, the inbox draws `kind` ids: as shipped (time-ordered), or random as before."""

    def __init__(self, inbox: Any, kind: str) -> None:
        self.inbox, self.kind = inbox, kind

    def __enter__(self) -> None:
        self.saved = (self.inbox.UUID7_SQL, self.inbox.uuid7)
        if self.kind == "random":
            self.inbox.UUID7_SQL, self.inbox.uuid7 = RANDOM_ID_SQL, uuid.uuid4

    def __exit__(self, *exc: object) -> None:
        self.inbox.UUID7_SQL, self.inbox.uuid7 = self.saved


def _segment_payloads() -> list[Any]:
    """100 canonical payloads of the realistic Segment mix, made by the real translator (about 1 KB each)."""
    import orjson

    from apps.dialects.segment.translate import translate_batch
    from bench.segment_batch import Messages

    body = Messages(20_000).batch_body(datetime.now(UTC)).encode()
    result = translate_batch(orjson.loads(body), compartment_id=1, received_at=_now(), body_size=len(body))
    return [translated.payload for translated in result.accepted]


def _now() -> datetime:
    from django.utils import timezone

    return timezone.now()


def _server_seconds(stat: Path) -> float:
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


if __name__ == "__main__":
    sys.exit(main())
