"""The consent CSV of one processing: each person's current choice with who the person is (their identifiers, as
the reader may see them) and every time in one format, ISO 8601 in UTC. Streamed in chunks: a million choices
never sit in memory at once, and each chunk's identifiers come in one query."""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from apps.choices.models import Choice
from apps.console.viewer import Viewer
from apps.datamarts.models import Processing
from apps.userpoints.identifiers import USER_ACCOUNT, USER_AGENT, USER_EMAIL
from apps.userpoints.models import UserIdentifier

CHUNK = 2000
HEADER = [
    "user_point_id",
    "processing_id",
    "processing_name",
    "answer",
    "choice_time",
    "source",
    "first_recorded",
    "last_modified",
    "user_account_ids",
    "email_addresses",
    "user_agent_ids",
]


def iso_utc(moment: datetime | int | None) -> str:
    """A datetime or epoch milliseconds as `2026-12-04T10:15:30.123Z`."""
    if moment is None:
        return ""
    if isinstance(moment, int):
        moment = datetime.fromtimestamp(moment / 1000, tz=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _Echo:
    def write(self, value: str) -> str:
        return value


def _identifiers_of(point_ids: list[Any], datamart_id: int, viewer: Viewer) -> dict[Any, dict[str, list[str]]]:
    policy = viewer.policy(datamart_id)
    found: dict[Any, dict[str, list[str]]] = defaultdict(lambda: {USER_ACCOUNT: [], USER_EMAIL: [], USER_AGENT: []})
    rows = (
        UserIdentifier.objects.filter(user_point_id__in=point_ids)
        .order_by("creation_ts", "id")
        .values_list("user_point_id", "type", "user_account_id", "email", "email_hash", "user_agent_id")
    )
    for point_id, kind, account, email, email_hash, agent in rows:
        if kind == USER_ACCOUNT:
            text = viewer.text(account, datamart_id)
        elif kind == USER_EMAIL:
            if email:
                text = viewer.address(email, datamart_id)
            else:
                text = f"hash:{policy.tag(email_hash or '') if policy else email_hash}"
        else:
            text = viewer.text(agent, datamart_id)
        found[point_id][kind].append(text)
    return found


def consent_csv_lines(processing: Processing, viewer: Viewer) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(HEADER)
    choices = (
        Choice.objects.filter(processing=processing)
        .order_by("pk")
        .values_list("user_point_id", "acceptance_value", "choice_ts", "source", "creation_ts", "last_modified_ts")
    )
    chunk: list[tuple[Any, ...]] = []

    def flush() -> Iterator[str]:
        identifiers = _identifiers_of([row[0] for row in chunk], processing.datamart_id, viewer)
        for point_id, accepted, choice_ts, source, created, modified in chunk:
            ids = identifiers.get(point_id, {})
            yield writer.writerow(
                [
                    point_id,
                    processing.pk,
                    processing.name,
                    "accepted" if accepted else "refused",
                    iso_utc(choice_ts),
                    source,
                    iso_utc(created),
                    iso_utc(modified),
                    " ".join(ids.get(USER_ACCOUNT, [])),
                    " ".join(ids.get(USER_EMAIL, [])),
                    " ".join(ids.get(USER_AGENT, [])),
                ]
            )

    for row in choices.iterator(chunk_size=CHUNK):
        chunk.append(row)
        if len(chunk) == CHUNK:
            yield from flush()
            chunk = []
    if chunk:
        yield from flush()
