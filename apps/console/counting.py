"""How many rows a console list holds, fast on a datamart of millions: an exact count when the database gives it
within a small time budget, otherwise PostgreSQL's planner estimate, labelled as such. Marketers read these as
audience sizes; a list page never waits more than the budget for its count."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import psycopg.errors
from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.db import OperationalError, connections, transaction
from django.db.models import QuerySet


@dataclass(frozen=True)
class Size:
    count: int
    exact: bool

    @property
    def shown(self) -> int:
        """What the page prints: the exact count, or the estimate rounded to two significant digits."""
        if self.exact or self.count < 100:
            return self.count
        digits = len(str(self.count)) - 2
        return round(self.count, -digits)


def audience_size(queryset: QuerySet[Any], *, budget_ms: int | None = None) -> Size:
    budget = settings.CONSOLE_COUNT_BUDGET_MS if budget_ms is None else budget_ms
    queryset = queryset.order_by()
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return Size(queryset.count(), exact=True)  # the embedded SQLite datamart is small
    # A list the planner expects to be large cannot be counted within the budget anyway (10,000,000 activities:
    # the count was cancelled at 200 ms on every page): its estimate is shown at once.
    try:
        estimate = planner_estimate(queryset)
    except EmptyResultSet:  # a filter that can match nothing (no datamart visible): Django sends no query
        return Size(0, exact=True)
    if estimate > settings.CONSOLE_COUNT_EXACT_MAX_ROWS:
        return Size(estimate, exact=False)
    try:
        # In a savepoint of its own: a cancelled count rolls back to it, and the previous timeout is restored.
        with transaction.atomic(using=queryset.db), connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('statement_timeout')")
            previous = cursor.fetchone()[0]
            cursor.execute("SELECT set_config('statement_timeout', %s, true)", [f"{max(budget, 1)}ms"])
            count = queryset.count()
            cursor.execute("SELECT set_config('statement_timeout', %s, true)", [previous])
        return Size(count, exact=True)
    except OperationalError as exc:
        if not isinstance(exc.__cause__, psycopg.errors.QueryCanceled):
            raise
    return Size(estimate, exact=False)


def planner_estimate(queryset: QuerySet[Any]) -> int:
    """The rows PostgreSQL's planner expects the query to return (from the table statistics ANALYZE keeps)."""
    sql, params = queryset.order_by().query.sql_with_params()
    with connections[queryset.db].cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return max(int(plan[0]["Plan"]["Plan Rows"]), 0)
