"""Configuration reads (spec 1.8)."""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.api import MicsAPIView, listing, ok, page_params
from apps.datamarts.models import Compartment, Datamart, Processing


def datamart_render(datamart: Datamart) -> dict[str, Any]:
    default = datamart.compartments.filter(is_default=True).first()
    return {
        "id": str(datamart.pk),
        "name": datamart.name,
        "default_compartment_id": str(default.pk) if default else None,
        "creation_ts": int(datamart.created_at.timestamp() * 1000),
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
    }


class DatamartDetail(MicsAPIView):
    def get(self, request: Request, datamart_id: str) -> Response:
        return ok(datamart_render(Datamart.objects.get(pk=self.datamart_id)))


class CompartmentList(MicsAPIView):
    def get(self, request: Request, datamart_id: str) -> Response:
        first, size = page_params(request)
        queryset = Compartment.objects.filter(datamart_id=self.datamart_id).order_by("pk")
        rows = [compartment_render(c) for c in queryset[first : first + size]]
        return listing(rows, total=queryset.count(), first_result=first, max_results=size)


class ProcessingList(MicsAPIView):
    def get(self, request: Request, datamart_id: str) -> Response:
        first, size = page_params(request)
        queryset = Processing.objects.filter(datamart_id=self.datamart_id).order_by("pk")
        rows = [processing_render(p) for p in queryset[first : first + size]]
        return listing(rows, total=queryset.count(), first_result=first, max_results=size)
