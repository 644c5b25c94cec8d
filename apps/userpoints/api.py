"""The UserPoint API (spec 1.4, 1.7): the point, its identifiers, its timeline, erasure and export.

Views only parse, call a selector or a service, and render; the profile and choice routes live in their apps.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db import connection
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from apps.activities.activity_filters import Filter, FilterInvalid, filters_parse
from apps.activities.selectors import activity_render, timeline_of, timeline_page_read
from apps.core.api import MicsAPIView, listing, ok, page_params
from apps.core.db import read_snapshot
from apps.core.errors import ApiError, FieldError, not_found
from apps.core.schema import DATAMART_PARAM, ERRORS, PAGE_PARAMS, SELECTOR_PARAM, mics_envelope
from apps.datamarts.selectors import compartments_of
from apps.userpoints.erasure import UserPointNotFound, identifier_erase, user_point_erase
from apps.userpoints.export import user_point_export
from apps.userpoints.identifiers import (
    USER_ACCOUNT,
    USER_AGENT,
    Identifier,
    account_identifier,
    agent_identifier,
    email_identifier,
)
from apps.userpoints.models import UserIdentifier, UserPoint
from apps.userpoints.params import ParamInvalid, ts_ms_parse
from apps.userpoints.selector_syntax import ACCOUNT, AGENT, EMAIL_HASH, Selector, SelectorInvalid, selector_parse
from apps.userpoints.selectors import (
    identifier_for_selector,
    identifiers_render,
    ts_ms,
    user_point_get_for_selector,
    user_point_render,
)

# first_result, max_results, the start_ts / end_ts bounds, the parsed filters
TimelineParams = tuple[int, int, dict[str, int | None], Filter]


def invalid(field: str, message: str) -> ApiError:
    return ApiError(400, f"{field}: {message}", "VALIDATION_ERROR", [FieldError(field, message)])


class UserPointView(MicsAPIView):
    """Base for routes under `/user_points/{selector}`: resolves the selector or answers 404."""

    def selector(self, selector_text: str) -> Selector:
        """Django has already percent-decoded the path; selector_parse decodes again (it also serves raw text), so
        a literal `%` is escaped first: a value is decoded exactly once."""
        try:
            return selector_parse(selector_text.replace("%", "%25"))
        except SelectorInvalid as exc:
            raise invalid("selector", f"invalid user point selector: {exc}") from None

    def user_point(self, selector_text: str) -> UserPoint:
        selector = self.selector(selector_text)
        point = user_point_get_for_selector(datamart_id=self.datamart_id, selector=selector)
        if point is None:
            raise not_found()
        return point

    def write_target(self, selector_text: str) -> tuple[uuid.UUID | None, Identifier | None]:
        """What a PUT writes on: a point id (404 later if it does not exist) or the identifier that selects (and,
        when nobody holds it yet, creates) the point."""
        selector = self.selector(selector_text)
        if selector.is_point_id:
            return uuid.UUID(selector.value), None
        if selector.kind == AGENT:
            return None, agent_identifier(selector.value)
        if selector.kind == EMAIL_HASH:
            return None, email_identifier(hash_value=selector.value)
        assert selector.kind == ACCOUNT
        ids, default = compartments_of(datamart_id=self.datamart_id)
        compartment_id = selector.compartment_id if selector.compartment_id is not None else default
        if compartment_id is None or compartment_id not in ids:
            raise invalid("selector", f"compartment {compartment_id} is not a compartment of this datamart")
        return None, account_identifier(compartment_id, selector.value)

    @property
    def actor(self) -> str:
        return f"api-key:{self.api_key.name}"


@extend_schema(parameters=[DATAMART_PARAM, SELECTOR_PARAM], tags=["UserPoint API"])
class UserPointDetail(UserPointView):
    snapshot_read = False  # one statement for a live point: see get()

    @extend_schema(
        operation_id="user_point_get",
        summary="A user point",
        responses={200: mics_envelope("`user_point_id`, `creation_ts`, `flags`, `merged_user_point_ids`"), **ERRORS},
    )
    def get(self, request: Request, datamart_id: str, selector: str, **kwargs: Any) -> Response:
        parsed = self.selector(selector)
        if connection.vendor == "postgresql" and not connection.in_atomic_block:
            # The point and the ids merged into it in one statement, which sees one snapshot by itself: no
            # transaction (BEGIN and COMMIT would be two more round trips on the route's time).
            point = user_point_get_for_selector(
                datamart_id=self.datamart_id, selector=parsed, with_merges=True, live_only=True
            )
            if point is not None:
                return ok(user_point_render(point))
            if not parsed.is_point_id:
                raise not_found()
        # A merged point's id (its survivor is read in several statements) and SQLite: in one snapshot.
        with read_snapshot():
            point = user_point_get_for_selector(datamart_id=self.datamart_id, selector=parsed, with_merges=True)
            if point is None:
                raise not_found()
            return ok(user_point_render(point))

    @extend_schema(
        operation_id="user_point_erase",
        summary="Erase a user point (right to be forgotten)",
        description=(
            "Deletes the point and everything naming it (identifiers, activities, profiles, choices, the consent "
            "change log, merges, the accepted payloads that named it) and keeps an erasure record with no personal "
            "data. Scope `write`."
        ),
        responses={
            200: mics_envelope("`user_point_id`, `erased_ts`, `actor`, `counts` (rows deleted by kind)"),
            **ERRORS,
        },
    )
    def delete(self, request: Request, datamart_id: str, selector: str, **kwargs: Any) -> Response:
        point = self.user_point(selector)
        try:
            record = user_point_erase(datamart_id=self.datamart_id, user_point_id=point.id, actor=self.actor)
        except UserPointNotFound:
            raise not_found() from None  # erased by a concurrent request
        return ok(
            {
                "user_point_id": str(record.user_point_id),
                "erased_ts": ts_ms(record.erased_at),
                "actor": record.actor,
                "counts": record.counts,
            }
        )


@extend_schema(parameters=[DATAMART_PARAM, SELECTOR_PARAM], tags=["UserPoint API"])
class UserPointIdentifiers(UserPointView):
    @extend_schema(
        operation_id="user_identifiers_list",
        summary="The identifiers of a user point",
        responses={200: mics_envelope("USER_POINT, USER_ACCOUNT, USER_EMAIL, USER_AGENT entries", many=True), **ERRORS},
    )
    def get(self, request: Request, datamart_id: str, selector: str, **kwargs: Any) -> Response:
        rows = identifiers_render(self.user_point(selector))
        return listing(rows, total=len(rows), first_result=0, max_results=len(rows))


@extend_schema(parameters=[DATAMART_PARAM, SELECTOR_PARAM], tags=["UserPoint API"])
class UserPointActivities(UserPointView):
    # Most reads are answered by one statement (timeline_page_read), a snapshot by itself; `get` opens the snapshot
    # for the others.
    snapshot_read = False

    @extend_schema(
        operation_id="user_activities_list",
        summary="The timeline of a user point, newest first",
        parameters=[
            *PAGE_PARAMS,
            OpenApiParameter("start_ts", OpenApiTypes.STR, description="From (inclusive): epoch ms or ISO 8601."),
            OpenApiParameter("end_ts", OpenApiTypes.STR, description="Until (exclusive): epoch ms or ISO 8601."),
            OpenApiParameter(
                "filters",
                OpenApiTypes.STR,
                description=(
                    "Conditions `field==value` or `field!=value` on top-level activity fields; `,` = and, `|` = or "
                    "(`|` binds tighter: `$type==SITE_VISIT,$channel_id==12|$channel_id==13`). Values compare as "
                    "text; `null` matches a missing field; `\\` escapes `,` `|` `\\`."
                ),
            ),
        ],
        responses={200: mics_envelope("activities as received, with `$activity_id`", many=True), **ERRORS},
    )
    def get(self, request: Request, datamart_id: str, selector: str, **kwargs: Any) -> Response:
        params: TimelineParams | None
        try:
            params = self._params(request)
        except ApiError:
            params = None  # raised in the snapshot below, after the point's 404 if it has none, as before
        else:
            first, size, bounds, parsed = params
            page = None if parsed else self._page_in_one_statement(selector, bounds, first, size)
            # A page that is not full ends the timeline: the total is known without counting.
            if page is not None and (0 < len(page) < size or (first == 0 and not page)):
                return listing(page, total=first + len(page), first_result=first, max_results=size)
        with read_snapshot():
            point = self.user_point(selector)
            first, size, bounds, parsed = params or self._params(request)
            rows = timeline_of(
                user_point_id=point.id, start_ts=bounds["start_ts"], end_ts=bounds["end_ts"], parsed=parsed
            )
            data = [activity_render(a) for a in rows[first : first + size]]
            # As above; otherwise one query more, over every monthly partition.
            total = first + len(data) if 0 < len(data) < size or (first == 0 and not data) else rows.count()
        return listing(data, total=total, first_result=first, max_results=size)

    def _params(self, request: Request) -> TimelineParams:
        first, size = page_params(request)
        bounds: dict[str, int | None] = {}
        for name in ("start_ts", "end_ts"):
            raw = request.query_params.get(name)
            try:
                bounds[name] = ts_ms_parse(raw, name) if raw not in (None, "") else None
            except ParamInvalid as exc:
                raise invalid(name, str(exc)) from None
        try:
            parsed = filters_parse(request.query_params.get("filters"))
        except FilterInvalid as exc:
            raise invalid("filters", str(exc)) from None
        return first, size, bounds, parsed

    def _page_in_one_statement(
        self, selector_text: str, bounds: dict[str, int | None], first: int, size: int
    ) -> list[dict[str, Any]] | None:
        """The page read by one statement (timeline_page_read), or None: no live point answers the selector there
        (a merged point's id, an unknown one) and the snapshot read decides."""
        selector = self.selector(selector_text)
        point_id = selector.value if selector.is_point_id else None
        identity: tuple[str, str] | None = None
        if point_id is None:
            identity = identifier_for_selector(datamart_id=self.datamart_id, selector=selector)
            if identity is None:
                return None
        return timeline_page_read(
            datamart_id=self.datamart_id,
            point_id=point_id,
            identity=identity,
            start_ts=bounds["start_ts"],
            end_ts=bounds["end_ts"],
            first=first,
            size=size,
        )


@extend_schema(parameters=[DATAMART_PARAM, SELECTOR_PARAM], tags=["UserPoint API"])
class UserPointExport(UserPointView):
    @extend_schema(
        operation_id="user_point_export",
        summary="Export everything stored about a user point (right of access)",
        responses={
            200: mics_envelope(
                "`user_point`, `identifiers`, `profiles`, `choices`, `change_log`, `activities`, `merges`, "
                "`hyper_point_refusals`"
            ),
            **ERRORS,
        },
    )
    def get(self, request: Request, datamart_id: str, selector: str, **kwargs: Any) -> Response:
        point = self.user_point(selector)
        try:
            return ok(user_point_export(datamart_id=self.datamart_id, user_point_id=point.id))
        except UserPointNotFound:
            raise not_found() from None


@extend_schema(
    parameters=[
        DATAMART_PARAM,
        OpenApiParameter(
            "selector",
            OpenApiTypes.STR,
            OpenApiParameter.PATH,
            description=(
                "One identifier: `user_agent_id=<id>`, `email_hash=<hash>`, `user_account_id=<U>` or "
                "`compartment_id=<C>,user_account_id=<U>` (or with `/`)."
            ),
        ),
    ],
    tags=["UserPoint API"],
)
class UserIdentifierDelete(UserPointView):
    @extend_schema(
        operation_id="user_identifier_delete",
        summary="Detach and delete one identifier",
        description="The identifier only: its user point and the point's other data stay. Scope `write`.",
        responses={200: mics_envelope("the deleted identifier and the `user_point_id` it was on"), **ERRORS},
    )
    def delete(self, request: Request, datamart_id: str, selector: str, **kwargs: Any) -> Response:
        parsed = self.selector(selector)
        if parsed.is_point_id:
            raise invalid("selector", "name an identifier (user_agent_id=, email_hash=, user_account_id=)")
        identity = identifier_for_selector(datamart_id=self.datamart_id, selector=parsed)
        if identity is None:
            raise not_found()
        row = UserIdentifier.objects.filter(datamart_id=self.datamart_id, type=identity[0], key=identity[1]).first()
        if row is None or not identifier_erase(datamart_id=self.datamart_id, identifier_type=row.type, key=row.key):
            raise not_found()
        rendered: dict[str, Any] = {"type": row.type, "user_point_id": str(row.user_point_id)}
        if row.type == USER_ACCOUNT:
            rendered.update(compartment_id=str(row.compartment_id), user_account_id=row.user_account_id)
        elif row.type == USER_AGENT:
            rendered["user_agent_id"] = row.user_agent_id
        else:
            rendered["hash"] = row.email_hash
        return ok(rendered)
