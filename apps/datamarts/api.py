"""Configuration reads (spec 1.8)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.api import MicsAPIView, listing, ok, page_params
from apps.core.schema import DATAMART_PARAM, ERRORS, PAGE_PARAMS, mics_envelope
from apps.datamarts.models import Compartment, Datamart, Processing


def datamart_render(datamart: Datamart) -> dict[str, Any]:
    default = datamart.compartments.filter(is_default=True).first()
    return {
        "id": str(datamart.pk),
        "name": datamart.name,
        "default_compartment_id": str(default.pk) if default else None,
        "creation_ts": int(datamart.created_at.timestamp() * 1000),
        "allowed_origins": list(datamart.allowed_origins),
    }


def compartment_render(compartment: Compartment) -> dict[str, Any]:
    return {
        "compartment_id": str(compartment.pk),
        "datamart_id": str(compartment.datamart_id),
        "name": compartment.name,
        "default": compartment.is_default,
    }


def processing_render(processing: Processing) -> dict[str, Any]:
    return {
        "processing_id": str(processing.pk),
        "datamart_id": str(processing.datamart_id),
        "name": processing.name,
        "legal_basis": processing.legal_basis,
        "consent_categories": list(processing.consent_categories),
        "gpc_opt_out": processing.gpc_opt_out,
    }


@extend_schema_view(
    get=extend_schema(
        operation_id="datamart_get",
        summary="The datamart",
        tags=["Configuration"],
        parameters=[DATAMART_PARAM],
        responses={200: mics_envelope("the datamart"), **ERRORS},
    )
)
class DatamartDetail(MicsAPIView):
    def get(self, request: Request, datamart_id: str) -> Response:
        return ok(datamart_render(Datamart.objects.get(pk=self.datamart_id)))


@extend_schema_view(
    get=extend_schema(
        operation_id="compartments_list",
        summary="Its compartments",
        tags=["Configuration"],
        parameters=[DATAMART_PARAM, *PAGE_PARAMS],
        responses={200: mics_envelope("its compartments", many=True), **ERRORS},
    )
)
class CompartmentList(MicsAPIView):
    def get(self, request: Request, datamart_id: str) -> Response:
        first, size = page_params(request)
        queryset = Compartment.objects.filter(datamart_id=self.datamart_id).order_by("pk")
        rows = [compartment_render(c) for c in queryset[first : first + size]]
        return listing(rows, total=queryset.count(), first_result=first, max_results=size)


@extend_schema_view(
    get=extend_schema(
        operation_id="processings_list",
        summary="Its processings",
        tags=["Configuration"],
        parameters=[DATAMART_PARAM, *PAGE_PARAMS],
        responses={200: mics_envelope("its processings", many=True), **ERRORS},
    )
)
class ProcessingList(MicsAPIView):
    def get(self, request: Request, datamart_id: str) -> Response:
        first, size = page_params(request)
        queryset = Processing.objects.filter(datamart_id=self.datamart_id).order_by("pk")
        rows = [processing_render(p) for p in queryset[first : first + size]]
        return listing(rows, total=queryset.count(), first_result=first, max_results=size)
