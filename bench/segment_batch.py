#!/usr/bin/env python
"""Segment `/v1/batch` benchmark (issue 4): messages accepted per second through gunicorn as deployed, and the
drain rate of one Celery worker over a backlog of Segment payloads made by the real translator.

    bench/segment_batch.py [--events-only] [--duration 10 --rounds 2 --activities 100000 ...]
    (the options of bench/ingest; --events-only drains track/page/screen only, the pipeline's bulk path)

bench/ingest also runs the HTTP scenarios (`segment_batch_scenario`) next to its own, against the same bare route,
in two forms, since they cost the server differently:
- `segment_batch`: messages without `messageId`, as a server-side integration may send them. The server draws each
  message's id, which no retry can repeat, so it stores no dedupe key for it (one INSERT, no key table);
- `segment_batch_ids`: every message with its own `messageId`, as the Segment and RudderStack libraries send them.
  Each is checked and stored in the dedupe key table (InboxKey) in the same statement. wrk replays a fixed set of
  bodies, so it writes ids unique to each request into them (`unique_token`, bench/wrk_post.lua): a replayed id
  would be a duplicate, which costs the server less than a new message.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if __name__ == "__main__":
    VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
    if VENV_PYTHON.exists() and Path(sys.prefix).resolve() != (ROOT / ".venv").resolve():
        os.execv(str(VENV_PYTHON), [str(VENV_PYTHON), __file__, *sys.argv[1:]])
    sys.path.insert(0, str(ROOT))

from uuid_utils.compat import uuid7  # noqa: E402

from bench.ingest_lib import Bench, HttpScenario, Target, bare_scenario, parse_args  # noqa: E402

MESSAGES_PER_REQUEST = 100
# What web and mobile apps send: mostly events and page views, some identifies (profile updates, the pipeline's
# one-by-one path), a few groups and aliases (merges).
CALL_MIX = (("track", 0.62), ("page", 0.22), ("screen", 0.08), ("identify", 0.05), ("group", 0.02), ("alias", 0.01))
# `--events-only`: the calls the pipeline stores in bulk (no profile update, no alias), to separate the two paths.
EVENTS_ONLY_MIX = (("track", 0.62), ("page", 0.22), ("screen", 0.08))
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"


class Messages:
    """Segment messages of `users` people, each with an anonymous id; a third also identified by a user id."""

    def __init__(self, users: int, seed: int = 11, mix: tuple[tuple[str, float], ...] = CALL_MIX) -> None:
        self.users = users
        self.rng = random.Random(seed)
        self.calls = [c for c, _ in mix]
        self.weights = [w for _, w in mix]

    def message(self, when: datetime, *, with_id: bool) -> dict[str, Any]:
        rng = self.rng
        user = rng.randrange(self.users)
        call = rng.choices(self.calls, self.weights)[0]
        message: dict[str, Any] = {
            "type": call,
            "anonymousId": f"anon-{user}",
            "timestamp": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "context": {
                "library": {"name": "analytics.js", "version": "4.1.0"},
                "page": {"path": f"/p/{rng.randrange(500)}", "url": f"https://shop.example/p/{rng.randrange(500)}"},
                "userAgent": USER_AGENT,
                "locale": "fr-FR",
            },
            "integrations": {},
        }
        if with_id:
            message["messageId"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        if user % 3 == 0 or call == "alias":
            message["userId"] = f"user-{user}"
        if call == "track":
            message["event"] = rng.choice(["Product Viewed", "Product Added", "Checkout Started", "Order Completed"])
            message["properties"] = {"product_id": f"sku-{rng.randrange(2000)}", "price": rng.randrange(100, 9900)}
        elif call in ("page", "screen"):
            message["name"] = rng.choice(["Home", "Product", "Cart"])
            message["properties"] = {"title": "Shop", "referrer": ""}
        elif call == "identify":
            message["traits"] = {"email": f"user{user}@example.com", "plan": rng.choice(["free", "pro"])}
        elif call == "group":
            message["groupId"] = f"org-{user % 100}"
            message["traits"] = {"name": f"Org {user % 100}"}
        else:
            message["previousId"] = f"anon-{user}"
        return message

    def batch_body(self, when: datetime, *, with_ids: bool = False, id_token: str | None = None) -> str:
        """`id_token`: each message's `messageId` is the token and its place in the batch, for wrk to make unique."""
        batch = [self.message(when, with_id=with_ids) for _ in range(MESSAGES_PER_REQUEST)]
        if id_token is not None:
            for index, message in enumerate(batch):
                message["messageId"] = f"{id_token}-{index}"
        sent_at = (when + timedelta(seconds=1)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        return json.dumps({"batch": batch, "sentAt": sent_at})


# What wrk_post.lua replaces in each request's body (a plain find: no Lua pattern).
ID_TOKEN = "BENCHMESSAGEID"


def segment_batch_scenario(bench: Bench, n_bodies: int = 300, *, client_ids: bool = False) -> HttpScenario:
    """POST /v1/batch with 100 messages per request, HTTP Basic write key, as the Segment libraries send it; with
    `client_ids`, each message carries its own `messageId`, unique to each request, as the libraries' do."""
    import base64

    messages = Messages(bench.args.users)
    now = datetime.now(UTC)
    basic = "Basic " + base64.b64encode(f"{bench.fixture['key']}:".encode()).decode()
    token = ID_TOKEN if client_ids else None
    return HttpScenario(
        name="segment_batch_ids" if client_ids else "segment_batch",
        path="/v1/batch",
        bodies=[messages.batch_body(now, id_token=token) for _ in range(n_bodies)],
        auth=basic,
        items_per_request=MESSAGES_PER_REQUEST,
        baseline="bare",
        min_items_per_s=20_000,
        what="messages",
        unique_token=token,
    )


def segment_drain(
    bench: Bench, *, min_rate: float | None = 3000.0, mix: tuple[tuple[str, float], ...] = CALL_MIX
) -> None:
    """Fills the inbox with Segment payloads (real translator, COPY) and times one worker until it is empty."""
    from django.db import connection

    from apps.activities.models import InboxPayload, InboxStatus
    from apps.dialects.segment.translate import translate_batch
    from apps.userpoints.models import UserPoint, UserPointMerge

    a = bench.args
    fx = bench.fixture
    bench.say(f"\n== Segment drain: {a.activities} messages over {a.users} users, one Celery worker (concurrency 1)")
    bench._truncate()
    bench._broker_purge()
    started = time.monotonic()
    messages = Messages(a.users, seed=5, mix=mix)
    received = datetime.now(UTC) - timedelta(hours=1)
    counts: dict[str, int] = {}
    table = InboxPayload._meta.db_table
    columns = "id, datamart_id, source, unique_key, payload, received_at, status, attempts, last_error"
    with connection.cursor() as cursor, cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for n in range(0, a.activities, MESSAGES_PER_REQUEST):
            body = json.loads(messages.batch_body(received + timedelta(milliseconds=n), with_ids=True))
            result = translate_batch(
                body, compartment_id=fx["default_compartment_id"], received_at=received, body_size=0
            )
            assert not result.errors, result.errors
            for i, translated in enumerate(result.accepted):
                kind = translated.payload["activity"]["document"]["type"]  # type: ignore[index]
                counts[kind] = counts.get(kind, 0) + 1
                copy.write_row(
                    (
                        uuid7(),  # as the routes draw them (apps/activities/inbox.py)
                        fx["datamart_id"],
                        "SEGMENT",
                        translated.unique_key,
                        json.dumps(translated.payload),
                        received + timedelta(microseconds=(n + i) * 10),
                        InboxStatus.PENDING,
                        0,
                        "",
                    )
                )
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {table}")
    bench.say(f"inbox filled in {time.monotonic() - started:.1f} s; mix {counts}")

    done, _left, elapsed = bench.time_drain(name="segment-drain", expected=a.activities)
    rate = done / elapsed
    stats = {
        "processed": InboxPayload.objects.filter(status=InboxStatus.PROCESSED).count(),
        "failed": InboxPayload.objects.filter(status=InboxStatus.FAILED).count(),
        "user_points": UserPoint.objects.count(),
        "merges": UserPointMerge.objects.count(),
    }
    bench.say(f"drained {done} Segment messages in {elapsed:.1f} s = {rate:.0f} messages/s; {stats}")
    bench.figures["segment_drain"] = {"messages": done, "seconds": round(elapsed, 2), "per_s": round(rate, 1), **stats}
    if min_rate is not None:
        bench.targets.append(Target("Segment drain rate of one worker process (messages/s)", rate, min_rate, True))


def main() -> int:
    events_only = "--events-only" in sys.argv
    args = parse_args([a for a in sys.argv[1:] if a != "--events-only"])
    with Bench(args) as bench:
        if not args.skip_http:
            bench.add_http(bare_scenario(bench))
            bench.add_http(segment_batch_scenario(bench))
            bench.add_http(segment_batch_scenario(bench, client_ids=True))
            bench.run_http()
        if not args.skip_drain:
            segment_drain(bench, mix=EVENTS_ONLY_MIX if events_only else CALL_MIX)
        return bench.report()


if __name__ == "__main__":
    sys.exit(main())
