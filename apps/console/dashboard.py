"""Reads behind the console's home page, per datamart: activity and new points per day, consent acceptance
over time, and ingestion health. Each datamart's figures are cached for a minute, so a busy console does not
aggregate a large datamart on every page view."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.core.cache import cache
from django.db.models import Count, Min, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from apps.activities.models import Activity, InboxPayload, InboxStatus, Source
from apps.choices.models import ChoiceChangeLogEntry
from apps.datamarts.models import Datamart
from apps.userpoints.models import UserPoint

DAYS = 30
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


def _per_day(rows: Any, days: list[date]) -> list[int]:
    found = {row["day"]: row["n"] for row in rows}
    return [found.get(d, 0) for d in days]


def datamart_figures(datamart: Datamart, *, now: datetime | None = None, use_cache: bool = True) -> DatamartFigures:
    now = now or timezone.now()
    key = f"console:dashboard:{datamart.pk}"
    if use_cache:
        cached = cache.get(key)
        if cached is not None:
            return cached
    today = now.date()
    days = [today - timedelta(days=DAYS - 1 - i) for i in range(DAYS)]
    since = datetime.combine(days[0], datetime.min.time(), tzinfo=now.tzinfo)

    # Activities are counted by the day they were stored (indexed by datamart and created_at).
    activities = (
        Activity.objects.filter(datamart=datamart, created_at__gte=since)
        .annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(n=Count("id"))
    )
    points = (
        UserPoint.objects.filter(datamart=datamart, creation_ts__gte=since)
        .annotate(day=TruncDate("creation_ts"))
        .values("day")
        .annotate(n=Count("id"))
    )
    # Merge entries restate a choice that was already counted when it was written: leave them out.
    consent = (
        ChoiceChangeLogEntry.objects.filter(datamart=datamart, recorded_ts__gte=since, applied=True)
        .exclude(source=Source.MERGE)
        .annotate(day=TruncDate("recorded_ts"))
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
    figures = DatamartFigures(
        days=days,
        activities_per_day=_per_day(activities, days),
        new_points_per_day=_per_day(points, days),
        acceptance_rate={name: [by_day.get(d) for d in days] for name, by_day in rates.items()},
        inbox_backlog=pending["n"],
        failed_payloads=InboxPayload.objects.filter(datamart=datamart, status=InboxStatus.FAILED).count(),
        oldest_pending_age_seconds=(now - pending["oldest"]).total_seconds() if pending["oldest"] else None,
    )
    if use_cache:
        cache.set(key, figures, CACHE_SECONDS)
    return figures
