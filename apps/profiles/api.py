"""Profiles of the UserPoint API (spec 1.4, 1.5): the GET forms and the PUT with its update strategies."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.api import listing, ok, page_params
from apps.core.errors import ApiError, FieldError, not_found
from apps.core.schema import DATAMART_PARAM, ERRORS, ID_SCHEMA, PAGE_PARAMS, SELECTOR_PARAM, mics_envelope
from apps.datamarts.selectors import compartments_of
from apps.profiles.selectors import profile_render, profiles_of
from apps.profiles.services import ProfileNotFound, profile_put
from apps.profiles.strategies import StrategyError, strategy_from_params, strip_reserved
from apps.userpoints.api import UserPointView, invalid
from apps.userpoints.params import ParamInvalid, id_param

COMPARTMENT_PARAM = OpenApiParameter("compartment_id", ID_SCHEMA, OpenApiParameter.PATH)
ACCOUNT_PARAM = OpenApiParameter(
    "user_account_id", OpenApiTypes.STR, OpenApiParameter.PATH, description="Percent-decoded."
)


class ProfileView(UserPointView):
    def compartment(self, raw: str, *, for_write: bool) -> int:
        """The path's compartment: 400 when it is not an id; not one of the datamart's: 400 on a write (bad
        input, spec 1.2), 404 on a read (nothing there)."""
        try:
            compartment_id = id_param(raw, "compartment_id")
        except ParamInvalid as exc:
            raise invalid("compartment_id", str(exc)) from None
        ids, _ = compartments_of(datamart_id=self.datamart_id)
        if compartment_id not in ids:
            if for_write:
                raise invalid("compartment_id", f"{compartment_id} is not a compartment of this datamart")
            raise not_found()
        return compartment_id


@extend_schema(parameters=[DATAMART_PARAM, SELECTOR_PARAM], tags=["UserPoint API"])
class ProfileList(ProfileView):
    @extend_schema(
        operation_id="user_profiles_list",
        summary="The profiles of a user point",
        parameters=PAGE_PARAMS,
        responses={
            200: mics_envelope(
                "profiles: `$compartment_id`, `$user_account_id`, `$creation_ts`, `$last_modified_ts` and the "
                "properties",
                many=True,
            ),
            **ERRORS,
        },
    )
    def get(self, request: Request, datamart_id: str, selector: str, **kwargs: Any) -> Response:
        point = self.user_point(selector)
        compartment_raw = kwargs.get("compartment_id")
        compartment_id = self.compartment(compartment_raw, for_write=False) if compartment_raw is not None else None
        first, size = page_params(request)
        rows = [profile_render(p) for p in profiles_of(user_point_id=point.id, compartment_id=compartment_id)]
        return listing(rows[first : first + size], total=len(rows), first_result=first, max_results=size)


@extend_schema(parameters=[DATAMART_PARAM, SELECTOR_PARAM, COMPARTMENT_PARAM], tags=["UserPoint API"])
class ProfileCompartmentList(ProfileList):
    @extend_schema(
        operation_id="user_profiles_of_compartment",
        summary="The profiles of a user point in one compartment",
        parameters=PAGE_PARAMS,
        responses={200: mics_envelope("profiles", many=True), **ERRORS},
    )
    def get(self, request: Request, datamart_id: str, selector: str, **kwargs: Any) -> Response:
        return super().get(request, datamart_id, selector, **kwargs)


@extend_schema(parameters=[DATAMART_PARAM, SELECTOR_PARAM, COMPARTMENT_PARAM, ACCOUNT_PARAM], tags=["UserPoint API"])
class ProfileDetail(ProfileView):
    @extend_schema(
        operation_id="user_profile_get", summary="One profile", responses={200: mics_envelope("the profile"), **ERRORS}
    )
    def get(
        self, request: Request, datamart_id: str, selector: str, compartment_id: str, user_account_id: str
    ) -> Response:
        point = self.user_point(selector)
        compartment = self.compartment(compartment_id, for_write=False)
        found = profiles_of(user_point_id=point.id, compartment_id=compartment, user_account_id=user_account_id)
        if not found:
            raise not_found()
        return ok(profile_render(found[0]))

    @extend_schema(
        operation_id="user_profile_put",
        summary="Create or update a profile",
        description=(
            "`update_strategy`: PARTIAL_UPDATE (default; top-level keys replaced or added), PARTIAL_DELETE (the "
            "named keys removed, in depth for objects; 404 when the profile does not exist), FORCE_REPLACE. Legacy "
            "`force_replace=true` means FORCE_REPLACE; `merge_objects=true` merges objects in depth. "
            "`$compartment_id` / `$user_account_id` in the body are optional and must equal the path's. The "
            "account is attached to the user point (merging if it belonged to another); an identifier selector "
            "that matches nothing creates the point. Scope `write`."
        ),
        parameters=[
            OpenApiParameter(
                "update_strategy", OpenApiTypes.STR, enum=["PARTIAL_UPDATE", "PARTIAL_DELETE", "FORCE_REPLACE"]
            ),
            OpenApiParameter("force_replace", OpenApiTypes.BOOL, description="Legacy."),
            OpenApiParameter("merge_objects", OpenApiTypes.BOOL, description="Legacy; with PARTIAL_UPDATE."),
        ],
        request=OpenApiTypes.OBJECT,
        examples=[OpenApiExample("profile", value={"gender": "female", "zipcode": "75001"}, request_only=True)],
        responses={200: mics_envelope("the profile as stored"), **ERRORS},
    )
    def put(
        self, request: Request, datamart_id: str, selector: str, compartment_id: str, user_account_id: str
    ) -> Response:
        params = request.query_params
        try:
            strategy, merge_objects = strategy_from_params(
                params.get("update_strategy"), params.get("force_replace"), params.get("merge_objects")
            )
        except StrategyError as exc:
            raise invalid("update_strategy", str(exc)) from None
        compartment = self.compartment(compartment_id, for_write=True)
        if not user_account_id:
            raise invalid("user_account_id", "must not be empty")
        body = request.data
        if not isinstance(body, dict):
            raise invalid("body", "must be a JSON object (the profile's properties)")
        problems = []
        if "$compartment_id" in body and str(body["$compartment_id"]) != str(compartment):
            problems.append(FieldError("$compartment_id", f"must equal the path's compartment_id ({compartment})"))
        if "$user_account_id" in body and str(body["$user_account_id"]) != user_account_id:
            problems.append(FieldError("$user_account_id", "must equal the path's user_account_id"))
        if problems:
            raise ApiError(400, "The body does not match the path", "VALIDATION_ERROR", problems)
        point_id, identifier = self.write_target(selector)
        try:
            profile = profile_put(
                datamart_id=self.datamart_id,
                point_id=point_id,
                identifier=identifier,
                compartment_id=compartment,
                user_account_id=user_account_id,
                properties=strip_reserved(dict(body)),
                strategy=strategy,
                merge_objects=merge_objects,
                now=timezone.now(),
                trigger_source="API",
                trigger_ref=self.api_key.name,
            )
        except ProfileNotFound:
            raise not_found() from None
        if profile is None:
            raise not_found()
        return ok(profile_render(profile))
