"""Choices of the UserPoint API (spec 1.4, 1.6): the list, the PUT, and the consent change log."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from apps.activities.models import Source
from apps.choices.selectors import change_log_entry_render, change_log_of, choice_render, choices_of
from apps.choices.services import choice_put
from apps.core.api import listing, ok, page_params
from apps.core.errors import ApiError, FieldError, not_found
from apps.core.schema import DATAMART_PARAM, ERRORS, ID_SCHEMA, PAGE_PARAMS, SELECTOR_PARAM, mics_envelope
from apps.datamarts.models import Processing
from apps.userpoints.api import UserPointView, invalid
from apps.userpoints.params import ParamInvalid, id_param, ts_ms_parse

PROCESSING_PARAM = OpenApiParameter("processing_id", ID_SCHEMA, OpenApiParameter.PATH)


class ChoiceView(UserPointView):
    def processing(self, raw: str | None, *, for_write: bool) -> int | None:
        """The path's processing: 400 when it is not an id; not one of the datamart's: 400 on a write, 404 on a
        read."""
        if raw is None:
            return None
        try:
            processing_id = id_param(raw, "processing_id")
        except ParamInvalid as exc:
            raise invalid("processing_id", str(exc)) from None
        if not Processing.objects.filter(pk=processing_id, datamart_id=self.datamart_id).exists():
            if for_write:
                raise invalid("processing_id", f"{processing_id} is not a processing of this datamart")
            raise not_found()
        return processing_id


@extend_schema(parameters=[DATAMART_PARAM, SELECTOR_PARAM], tags=["UserPoint API"])
class ChoiceList(ChoiceView):
    @extend_schema(
        operation_id="user_choices_list",
        summary="The choices of a user point",
        parameters=PAGE_PARAMS,
        responses={
            200: mics_envelope(
                "`$processing_id`, `$choice_ts`, `$choice_acceptance_value`, `$creation_ts`, `$last_modified_ts`, "
                "custom fields",
                many=True,
            ),
            **ERRORS,
        },
    )
    def get(self, request: Request, datamart_id: str, selector: str, **kwargs: Any) -> Response:
        point = self.user_point(selector)
        processing_id = self.processing(kwargs.get("processing_id"), for_write=False)
        first, size = page_params(request)
        rows = [choice_render(c) for c in choices_of(user_point_id=point.id, processing_id=processing_id)]
        return listing(rows[first : first + size], total=len(rows), first_result=first, max_results=size)


@extend_schema(parameters=[DATAMART_PARAM, SELECTOR_PARAM, PROCESSING_PARAM], tags=["UserPoint API"])
class ChoiceDetail(ChoiceList):
    @extend_schema(
        operation_id="user_choice_get",
        summary="The choice of a user point for one processing",
        parameters=PAGE_PARAMS,
        responses={200: mics_envelope("the choice, as a list of at most one", many=True), **ERRORS},
    )
    def get(self, request: Request, datamart_id: str, selector: str, **kwargs: Any) -> Response:
        return super().get(request, datamart_id, selector, **kwargs)

    @extend_schema(
        operation_id="user_choice_put",
        summary="Record a choice",
        description=(
            "`$choice_ts` (epoch ms or ISO 8601) and `$choice_acceptance_value` (boolean) are mandatory; other "
            "non-`$` fields are kept as custom fields. The stored choice is the write with the latest `$choice_ts`: "
            "an older write is logged with `applied: false`. Every write appends a change-log entry (source `API`, "
            "source_ref the key's name). An identifier selector that matches nothing creates the point. "
            "Scope `write`."
        ),
        request=OpenApiTypes.OBJECT,
        examples=[
            OpenApiExample(
                "choice",
                value={"$choice_ts": 1573135588140, "$choice_acceptance_value": True, "channel": "banner"},
                request_only=True,
            )
        ],
        responses={200: mics_envelope("the choice as stored (the latest by `$choice_ts`)"), **ERRORS},
    )
    def put(self, request: Request, datamart_id: str, selector: str, processing_id: str) -> Response:
        processing = self.processing(processing_id, for_write=True)
        assert processing is not None
        body = request.data
        if not isinstance(body, dict):
            raise invalid("body", "must be a JSON object")
        problems = []
        choice_ts = 0
        if "$choice_ts" not in body or body["$choice_ts"] is None:
            problems.append(FieldError("$choice_ts", "is required (epoch milliseconds or ISO 8601)"))
        else:
            try:
                choice_ts = ts_ms_parse(body["$choice_ts"], "$choice_ts")
            except ParamInvalid as exc:
                problems.append(FieldError("$choice_ts", str(exc)))
        acceptance = body.get("$choice_acceptance_value")
        if not isinstance(acceptance, bool):
            problems.append(FieldError("$choice_acceptance_value", "is required, a boolean"))
        if "$processing_id" in body and str(body["$processing_id"]) != str(processing):
            problems.append(FieldError("$processing_id", f"must equal the path's processing_id ({processing})"))
        if problems:
            raise ApiError(400, "The choice is not valid", "VALIDATION_ERROR", problems)
        point_id, identifier = self.write_target(selector)
        written = choice_put(
            datamart_id=self.datamart_id,
            point_id=point_id,
            identifier=identifier,
            processing_id=processing,
            choice_ts=choice_ts,
            acceptance_value=bool(acceptance),
            custom_fields={k: v for k, v in body.items() if not k.startswith("$")},
            source=Source.API,
            source_ref=self.api_key.name,
            now=timezone.now(),
        )
        if written is None:
            raise not_found()
        return ok(choice_render(written[0]))


@extend_schema(parameters=[DATAMART_PARAM, SELECTOR_PARAM, PROCESSING_PARAM], tags=["UserPoint API"])
class ChoiceChangeLog(ChoiceView):
    @extend_schema(
        operation_id="user_choice_change_log",
        summary="The consent change log of a choice, oldest first",
        parameters=PAGE_PARAMS,
        responses={
            200: mics_envelope(
                "`change_id`, `user_point_id`, `processing_id`, `$choice_ts`, `$choice_acceptance_value`, "
                "`previous_acceptance_value`, `applied`, `source`, `source_ref`, `custom_fields`, `recorded_ts`",
                many=True,
            ),
            **ERRORS,
        },
    )
    def get(self, request: Request, datamart_id: str, selector: str, processing_id: str) -> Response:
        point = self.user_point(selector)
        processing = self.processing(processing_id, for_write=False)
        first, size = page_params(request)
        entries = change_log_of(user_point_id=point.id, processing_id=processing)
        data = [change_log_entry_render(e) for e in entries[first : first + size]]
        return listing(data, total=len(entries), first_result=first, max_results=size)
