"""List filters that stay within the user's datamarts and never scan a large table to build their choices."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from typing import Any

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.auth.models import User
from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet, TextField
from django.db.models.functions import Cast
from django.http import HttpRequest
from django.utils import timezone

from apps.activities.mics import ACTIVITY_TYPES
from apps.choices.models import Choice
from apps.console.tenancy import restrict, visible_datamart_ids, visible_datamarts
from apps.core.validation import text_problem
from apps.datamarts.models import Compartment, Processing
from apps.userpoints.identifiers import USER_ACCOUNT
from apps.userpoints.models import UserIdentifier


class DateRangeFilter(admin.FieldListFilter):
    """`<field>__since=YYYY-MM-DD` and `<field>__until=YYYY-MM-DD` (both inclusive), as two date inputs. The
    bounds become a half-open range of aware datetimes so the field's index is used (no `__date` cast)."""

    template = "admin/console_date_range_filter.html"

    def __init__(self, field: Any, request: HttpRequest, params: Any, model: Any, model_admin: Any, field_path: str):
        self.since_param = f"{field_path}__since"
        self.until_param = f"{field_path}__until"
        super().__init__(field, request, params, model, model_admin, field_path)
        self.request_params = request.GET

    def expected_parameters(self) -> list[str | None]:
        return [self.since_param, self.until_param]

    def _day(self, name: str) -> date | None:
        raw = self.used_parameters.get(name)
        if isinstance(raw, list):
            raw = raw[-1] if raw else None
        if not raw:
            return None
        try:
            return date.fromisoformat(str(raw))
        except ValueError:
            raise IncorrectLookupParameters(f"{name} must be a date, YYYY-MM-DD") from None

    def bound(self, moment: datetime) -> Any:
        """The field's value at `moment`: the datetime itself here."""
        return moment

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        tz = timezone.get_current_timezone()
        since, until = self._day(self.since_param), self._day(self.until_param)
        if since is not None:
            start = datetime.combine(since, time.min, tzinfo=tz)
            queryset = queryset.filter(**{f"{self.field_path}__gte": self.bound(start)})
        if until is not None:
            end = datetime.combine(until + timedelta(days=1), time.min, tzinfo=tz)
            queryset = queryset.filter(**{f"{self.field_path}__lt": self.bound(end)})
        return queryset

    def choices(self, changelist: Any) -> Any:
        # The template draws a small form; it needs the current values and the other parameters to keep.
        keep = [(k, v) for k, v in self.request_params.items() if k not in (self.since_param, self.until_param, "p")]
        yield {
            "since_param": self.since_param,
            "until_param": self.until_param,
            "since": self.request_params.get(self.since_param, ""),
            "until": self.request_params.get(self.until_param, ""),
            "keep": keep,
        }


class IdFilter(admin.SimpleListFilter):
    """A filter whose value is the id of a datamart, compartment or processing: checked here, so a bad value is a
    400 on every list and never reaches the query; `id_path` names the column it filters."""

    id_path = ""

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if not value:
            return queryset
        if not value.isdigit():
            raise IncorrectLookupParameters(f"{self.parameter_name} must be an id")
        return self.filter_by(queryset, int(value))

    def filter_by(self, queryset: QuerySet[Any], pk: int) -> QuerySet[Any]:
        return queryset.filter(**{self.id_path: pk})


class DatamartFilter(IdFilter):
    """The user's datamarts only (the stock related filter would list every datamart's name)."""

    title = "datamart"
    parameter_name = "datamart"
    id_path = "datamart_id"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(str(d.pk), str(d)) for d in visible_datamarts(request.user)]


class ProcessingFilter(IdFilter):
    title = "processing"
    parameter_name = "processing"
    id_path = "processing_id"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        processings = restrict(Processing.objects.order_by("datamart_id", "pk"), request.user, "datamart")
        return [(str(p.pk), f"{p.name} ({p.pk}, datamart {p.datamart_id})") for p in processings]


class CompartmentFilter(IdFilter):
    title = "compartment"
    parameter_name = "compartment"
    id_path = "compartment_id"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        compartments = restrict(Compartment.objects.order_by("datamart_id", "pk"), request.user, "datamart")
        return [(str(c.pk), f"{c.name} ({c.pk}, datamart {c.datamart_id})") for c in compartments]


class PointCompartmentFilter(CompartmentFilter):
    """User points holding a user account in that compartment."""

    def filter_by(self, queryset: QuerySet[Any], pk: int) -> QuerySet[Any]:
        accounts = UserIdentifier.objects.filter(user_point_id=OuterRef("pk"), type=USER_ACCOUNT, compartment_id=pk)
        return queryset.filter(Exists(accounts))


class PointConsentFilter(admin.SimpleListFilter):
    """User points by their current choice for a processing: `consent=<processing id>:accepted|refused|none`."""

    title = "consent"
    parameter_name = "consent"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        processings = restrict(Processing.objects.order_by("datamart_id", "pk"), request.user, "datamart")
        found = []
        for p in processings:
            found += [(f"{p.pk}:accepted", f"{p.name}: accepted"), (f"{p.pk}:refused", f"{p.name}: refused")]
            found.append((f"{p.pk}:none", f"{p.name}: no choice"))
        return found

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if not value:
            return queryset
        processing, _, state = value.partition(":")
        if not processing.isdigit() or state not in ("accepted", "refused", "none"):
            raise IncorrectLookupParameters("consent must be <processing id>:accepted|refused|none")
        choices = Choice.objects.filter(user_point_id=OuterRef("pk"), processing_id=int(processing))
        if state == "none":
            return queryset.filter(~Exists(choices))
        return queryset.filter(Exists(choices.filter(acceptance_value=state == "accepted")))


class AcceptanceFilter(admin.SimpleListFilter):
    title = "acceptance value"
    parameter_name = "acceptance"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("true", "accepted"), ("false", "refused")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if value not in ("true", "false"):
            return queryset
        return queryset.filter(acceptance_value=value == "true")


class ActivityTypeFilter(admin.SimpleListFilter):
    """A fixed list (spec 1.3): the stock filter would run SELECT DISTINCT over every activity."""

    title = "type"
    parameter_name = "type"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(t, t) for t in ACTIVITY_TYPES]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        return queryset.filter(type=value) if value else queryset


class AccessUserFilter(admin.SimpleListFilter):
    """Access-log entries of one console user: those who may see the viewer's datamarts, and superusers."""

    title = "user"
    parameter_name = "username"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        ids = visible_datamart_ids(request.user)
        users = User.objects.filter(is_staff=True)
        if ids is not None:
            users = users.filter(Q(is_superuser=True) | Q(datamart_accesses__datamart_id__in=ids))
        names = sorted(set(users.values_list("username", flat=True)))
        return [(name, name) for name in names]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        return queryset.filter(username=value) if value else queryset


class EventTimeRangeFilter(DateRangeFilter):
    """The date range of an epoch-milliseconds field (an activity's `$ts`): the same two date inputs, in the
    reader's time zone, compared as milliseconds so the (datamart, ts) index serves it."""

    def bound(self, moment: datetime) -> Any:
        return int(moment.timestamp() * 1000)


# How many of the newest activities the event-name filter reads to offer its names: enough to list every name in
# use, without reading a large datamart's whole history to build a menu.
EVENT_NAME_SAMPLE = 2000


def event_names_in(document: Any) -> list[str]:
    """The `$event_name` of each event of an activity document, in order."""
    events = document.get("$events") if isinstance(document, dict) else None
    if not isinstance(events, list):
        return []
    return [e["$event_name"] for e in events if isinstance(e, dict) and isinstance(e.get("$event_name"), str)]


def activities_with_event(queryset: QuerySet[Any], name: str) -> QuerySet[Any]:
    """Activities one of whose events is named `name`: JSON containment on PostgreSQL (jsonb @>); on SQLite, where
    Django has no JSON containment, a match of the stored JSON text, exact up to the name's quotes."""
    if connection.vendor == "postgresql":
        return queryset.filter(document__contains={"$events": [{"$event_name": name}]})
    needle = f'"$event_name": {json.dumps(name)}'  # as Django's JSONField writes it on SQLite (json.dumps)
    return queryset.annotate(document_text=Cast("document", TextField())).filter(document_text__contains=needle)


def event_names_newest(documents: QuerySet[Any]) -> set[str]:
    """The event names in a (sliced) queryset of activity documents. On PostgreSQL the names are taken out in SQL:
    fetching and parsing 2,000 whole documents cost a third of the activity list's time (bench/scale.py)."""
    if connection.vendor != "postgresql":
        names: set[str] = set()
        for document in documents:
            names.update(event_names_in(document))
        return names
    sql, params = documents.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT DISTINCT e ->> '$event_name' FROM ({sql}) AS a (document) CROSS JOIN LATERAL"  # noqa: S608
            " jsonb_array_elements(CASE jsonb_typeof(a.document -> '$events') WHEN 'array'"
            " THEN a.document -> '$events' ELSE '[]'::jsonb END) AS e"
            " WHERE jsonb_typeof(e -> '$event_name') = 'string'",
            params,
        )
        return {row[0] for row in cursor.fetchall()}


class EventNameFilter(admin.SimpleListFilter):
    """Activities by the name of one of their events (`page_view`, `Order Completed`...). The names offered are
    those of the newest activities of the viewer's datamarts; any name can be given in the URL (`?event=`)."""

    title = "event name"
    parameter_name = "event"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        newest = model_admin.get_queryset(request).order_by("-ts").values_list("document", flat=True)
        names = event_names_newest(newest[:EVENT_NAME_SAMPLE])
        chosen = self.value()
        if chosen:
            names.add(chosen)
        return [(name, name) for name in sorted(names, key=str.lower)[:100]]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if not value:
            return queryset
        if text_problem(value) or len(value) > 255:
            raise IncorrectLookupParameters("event must be an event name")
        return activities_with_event(queryset, value)
