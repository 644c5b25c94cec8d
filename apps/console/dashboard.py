"""Reads behind the console's home page, per datamart: activities (by event time) and new points per day, consent
acceptance over time, ingestion health and audience sizes; days are UTC days. Each datamart's figures are cached
for a minute, so a busy console does not aggregate a large datamart on every page view."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.core.cache import cache
from django.db.models import Count, F, Min, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from apps.activities.models import Activity, InboxPayload, InboxStatus, Source
from apps.choices.models import Choice, ChoiceChangeLogEntry
from apps.choices.selectors import choice_counts_by_processing
from apps.console.counting import Size, audience_size
from apps.datamarts.models import Datamart, Processing
from apps.userpoints.models import UserPoint

DAYS = 30
MS_PER_DAY = 86_400_000
EPOCH = date(1970, 1, 1)
CACHE_SECONDS = 60


@dataclass(frozen=True)
class DatamartFigures:
    days: list[date]
    activities_per_day: list[int]
    new_points_per_day: list[int]
    # processing name → per day, accepted / (accepted + refused) among the consent writes applied that day
    acceptance_rate: dict[str, list[float | None]]
    inbox_backlog: int
    failed_payloads: int
    oldest_pending_age_seconds: float | None
    # Audience: how many people the datamart knows, and how many accepted / refused each processing.
    user_points: Size
    consent_by_processing: list[ProcessingConsent]


@dataclass(frozen=True)
class ProcessingConsent:
    processing_id: int
    name: str
    accepted: int
    refused: int


def _per_day(rows: Any, days: list[date]) -> list[int]:
    found = {row["day"]: row["n"] for row in rows}
    return [found.get(d, 0) for d in days]


def datamart_figures(datamart: Datamart, *, now: datetime | None = None, use_cache: bool = True) -> DatamartFigures:
    now = (now or timezone.now()).astimezone(UTC)
    key = f"console:dashboard:{datamart.pk}"
    if use_cache:
        cached = cache.get(key)
        if cached is not None:
            return cached
    today = now.date()
    days = [today - timedelta(days=DAYS - 1 - i) for i in range(DAYS)]
    since = datetime.combine(days[0], datetime.min.time(), tzinfo=now.tzinfo)

    # Activities are counted by the day they happened ($ts, the event time, in UTC days), not the day they arrived:
    # a mobile app's queue flushed today draws last week's activity last week. Served by the (datamart, ts) index.
    since_ms = int(since.timestamp() * 1000)
    until_ms = int(
        datetime.combine(today + timedelta(days=1), datetime.min.time(), tzinfo=now.tzinfo).timestamp() * 1000
    )
    activities = (
        Activity.objects.filter(datamart=datamart, ts__gte=since_ms, ts__lt=until_ms)
        .annotate(day_number=F("ts") / MS_PER_DAY)
        .values("day_number")
        .annotate(n=Count("id"))
        .order_by()
    )
    points = (
        UserPoint.objects.filter(datamart=datamart, creation_ts__gte=since)
        .annotate(day=TruncDate("creation_ts", tzinfo=UTC))
        .values("day")
        .annotate(n=Count("id"))
    )
    # Merge entries restate a choice that was already counted when it was written: leave them out.
    consent = (
        ChoiceChangeLogEntry.objects.filter(datamart=datamart, recorded_ts__gte=since, applied=True)
        .exclude(source=Source.MERGE)
        .annotate(day=TruncDate("recorded_ts", tzinfo=UTC))
        .values("processing__name", "processing_id", "day")
        .annotate(accepted=Count("id", filter=Q(acceptance_value=True)), total=Count("id"))
        .order_by("processing_id", "day")
    )
    rates: dict[str, dict[date, float]] = {}
    for row in consent:
        name = f"{row['processing__name']} ({row['processing_id']})"
        rates.setdefault(name, {})[row["day"]] = row["accepted"] / row["total"]
    pending = InboxPayload.objects.filter(datamart=datamart, status=InboxStatus.PENDING).aggregate(
        n=Count("id"), oldest=Min("received_at")
    )
    consent_counts = choice_counts_by_processing(Choice.objects.filter(datamart=datamart))
    figures = DatamartFigures(
        days=days,
        activities_per_day=_per_day(
            [{"day": EPOCH + timedelta(days=row["day_number"]), "n": row["n"]} for row in activities], days
        ),
        new_points_per_day=_per_day(points, days),
        acceptance_rate={name: [by_day.get(d) for d in days] for name, by_day in rates.items()},
        inbox_backlog=pending["n"],
        failed_payloads=InboxPayload.objects.filter(datamart=datamart, status=InboxStatus.FAILED).count(),
        oldest_pending_age_seconds=(now - pending["oldest"]).total_seconds() if pending["oldest"] else None,
        user_points=audience_size(UserPoint.objects.filter(datamart=datamart)),
        consent_by_processing=[
            ProcessingConsent(
                processing_id=p.pk,
                name=p.name,
                accepted=consent_counts.get(p.pk, {}).get("accepted", 0),
                refused=consent_counts.get(p.pk, {}).get("refused", 0),
            )
            for p in Processing.objects.filter(datamart=datamart).order_by("pk")
        ],
    )
    if use_cache:
        cache.set(key, figures, CACHE_SECONDS)
    return figures
