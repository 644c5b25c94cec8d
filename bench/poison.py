#!/usr/bin/env python3
"""Failure isolation in the drain (spec 7): how much one failing payload in 250 slows everyone else.

Fills the inbox with N good payloads (the mediarithmics translator's output for generated activities over N/5
people: agent ids, some accounts and e-mail hashes, so there are new points, known points and a few merges), drains
it with the pipeline's own batch function (`inbox_drain_batch`, what a Celery worker's drain task loops over) and
times it; then the same again with 0.4% poison payloads spread evenly through the inbox: payloads the route would
have accepted in shape but that fail when applied (a profile update with an unknown strategy). Prints both times,
good payloads/s and the ratio against the target (<= 1.2x). The poison payloads end PENDING with their backoff (or
FAILED): the measure stops when every good payload is processed.

Works in its own database (`tc_bench_poison`, created, migrated and emptied), on the server of DATABASE_URL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres bench/poison.py [--n 20000] [--poison 0.004]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TARGET_RATIO = 1.2


def _own_database(url: str, name: str) -> str:
    import psycopg

    parts = urlsplit(url)
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(parts._replace(path=f"/{name}"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=20_000, help="good payloads per scenario")
    parser.add_argument("--poison", type=float, default=0.004, help="share of poison payloads in scenario B")
    parser.add_argument("--database", default="tc_bench_poison")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith("postgres"):
        parser.error("DATABASE_URL must name a PostgreSQL server (the database itself is --database)")
    os.environ["DATABASE_URL"] = _own_database(base, args.database)
    os.environ.setdefault("CELERY_BROKER_URL", "memory://")  # nothing is queued: the bench drains in-process
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trackingconsole.settings")
    import logging

    import django

    django.setup()
    logging.disable(logging.ERROR)  # the poison payloads' tracebacks are expected
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    a = scenario(args.n, 0.0)
    b = scenario(args.n, args.poison)
    ratio = b["seconds"] / a["seconds"]
    print(f"A  without poison: {a['good']:>7} good payloads in {a['seconds']:7.2f} s = {a['rate']:8.0f} /s")
    print(
        f"B  with {args.poison:.1%} poison: {b['good']:>7} good + {b['poison']} poison in {b['seconds']:7.2f} s = "
        f"{b['rate']:8.0f} good /s (poison attempted: {b['poison_attempted']}, failed for good: {b['poison_failed']})"
    )
    verdict = "MET" if ratio <= TARGET_RATIO else "MISSED"
    print(f"target: drain time with poison <= {TARGET_RATIO}x without: {ratio:.2f}x {verdict}")
    if args.json:
        Path(args.json).write_text(json.dumps({"without": a, "with_poison": b, "ratio": ratio}, indent=2))
    return 0


def _empty() -> None:
    from django.db import connection

    tables = [
        "activities_processingerror",
        "activities_activity",
        "activities_inboxpayload",
        "choices_choicechangelogentry",
        "choices_choice",
        "profiles_profile",
        "userpoints_hyperpointrefusal",
        "userpoints_userpointmerge",
        "userpoints_useridentifier",
        "userpoints_userpoint",
    ]
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(tables)} CASCADE")


def _payloads(n: int, poison_share: float, compartments, default_compartment: int) -> tuple[list, set[int]]:
    from apps.activities.mics import translate_activity

    rng = random.Random(42)
    people = max(1, n // 5)
    step = int(1 / poison_share) if poison_share else 0
    payloads, poison = [], set()
    for i in range(n + (n // step if step else 0)):
        person = rng.randrange(people)
        activity: dict = {"$ts": 1_700_000_000_000 + i, "$type": "SITE_VISIT", "$user_agent_id": f"vec:{person}"}
        if person % 5 == 0:
            activity["$user_account_id"] = f"acc-{person}"
        if rng.random() < 0.03:  # the agent id of another person already seen: a merge when they are two points
            activity["$user_identifiers"] = [{"$type": "USER_AGENT", "$user_agent_id": f"vec:{rng.randrange(people)}"}]
        payload, _ = translate_activity(activity, compartments)
        if step and i % step == step - 1:
            payload["profile_updates"] = [
                {
                    "compartment_id": default_compartment,
                    "user_account_id": None,
                    "properties": {"poison": True},
                    "strategy": "NO_SUCH_STRATEGY",
                    "merge_objects": False,
                }
            ]
            poison.add(i)
        payloads.append(payload)
    return payloads, poison


def scenario(n: int, poison_share: float) -> dict:
    from django.utils import timezone

    from apps.activities.mics import Compartments
    from apps.activities.models import InboxPayload, InboxStatus
    from apps.activities.pipeline import inbox_drain_batch
    from apps.datamarts.models import Datamart
    from apps.datamarts.services import datamart_create

    _empty()
    datamart = Datamart.objects.filter(name="poison bench").first() or datamart_create(name="poison bench")
    default = datamart.compartments.get(is_default=True)
    payloads, poison = _payloads(n, poison_share, Compartments(frozenset({default.pk}), default.pk), default.pk)
    now = timezone.now()
    rows = [
        InboxPayload(
            datamart=datamart, source="ACTIVITY", payload=p, received_at=now + timezone.timedelta(microseconds=i)
        )
        for i, p in enumerate(payloads)
    ]
    InboxPayload.objects.bulk_create(rows, batch_size=2000)
    poison_ids = [rows[i].id for i in poison]
    good = InboxPayload.objects.exclude(id__in=poison_ids)
    started = time.perf_counter()
    while inbox_drain_batch() or good.filter(status=InboxStatus.PENDING).exists():
        pass
    seconds = time.perf_counter() - started
    assert not good.exclude(status=InboxStatus.PROCESSED).exists(), "every good payload is processed"
    attempted = InboxPayload.objects.filter(id__in=poison_ids, attempts__gt=0).count()
    failed = InboxPayload.objects.filter(id__in=poison_ids, status=InboxStatus.FAILED).count()
    return {
        "good": len(rows) - len(poison_ids),
        "poison": len(poison_ids),
        "seconds": seconds,
        "rate": (len(rows) - len(poison_ids)) / seconds,
        "poison_attempted": attempted,
        "poison_failed": failed,
    }


if __name__ == "__main__":
    raise SystemExit(main())
