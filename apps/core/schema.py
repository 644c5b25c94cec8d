"""OpenAPI pieces shared by the mediarithmics-dialect DRF views: the error format as a component, and the
parameters every UserPoint route takes."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers


class MicsFieldErrorSerializer(serializers.Serializer[Any]):
    field = serializers.CharField()
    message = serializers.CharField()


class MicsErrorSerializer(serializers.Serializer[Any]):
    """The mediarithmics error format (spec 1.1)."""

    status = serializers.ChoiceField(choices=["error"])
    error = serializers.CharField(help_text="A message for a person.")
    error_code = serializers.ChoiceField(
        choices=[
            "VALIDATION_ERROR",
            "MALFORMED_JSON",
            "UNAUTHORIZED",
            "FORBIDDEN",
            "RESOURCE_NOT_FOUND",
            "METHOD_NOT_ALLOWED",
            "PAYLOAD_TOO_LARGE",
            "UNSUPPORTED_MEDIA_TYPE",
            "RATE_LIMITED",
            "INTERNAL_ERROR",
        ]
    )
    error_id = serializers.UUIDField(help_text="Also logged: quote it to the operator.")
    details = MicsFieldErrorSerializer(many=True, required=False, help_text="The fields at fault.")


MICS_ERROR_REF = {"$ref": "#/components/schemas/MicsError"}
MICS_ERROR = OpenApiResponse(MicsErrorSerializer, description="The mediarithmics error format.")
ERRORS = {400: MICS_ERROR, 401: MICS_ERROR, 403: MICS_ERROR, 404: MICS_ERROR}


def mics_envelope(description: str, *, many: bool = False) -> OpenApiResponse:
    """`{"status": "ok", "data": ...}`, or the list envelope with count/total/first_result/max_results."""
    return OpenApiResponse(OpenApiTypes.OBJECT, description=description + (" (list envelope)" if many else ""))


_UUID = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
# What the selector parser accepts (apps/userpoints/selector_syntax.py), so that the schema says it too.
SELECTOR_PATTERN = (
    rf"^({_UUID}|user_point_id={_UUID}|(user_agent_id|email_hash|user_account_id)=[^/\x00]+"
    r"|compartment_id=[0-9]{1,18}[,/]user_account_id=[^\x00]+)$"
)
ID_SCHEMA: dict[str, Any] = {"type": "integer", "minimum": 0, "maximum": 2**63 - 1}

SELECTOR_PARAM = OpenApiParameter(
    "selector",
    {"type": "string", "pattern": SELECTOR_PATTERN},
    OpenApiParameter.PATH,
    description=(
        "The user point: `<uuid>`, `user_point_id=<uuid>`, `user_agent_id=<id>`, `email_hash=<hash>`, "
        "`user_account_id=<U>` (default compartment), or `compartment_id=<C>,user_account_id=<U>` (also with "
        "`/` instead of `,`). Values are percent-decoded. A merged point's id selects its survivor."
    ),
)
DATAMART_PARAM = OpenApiParameter("datamart_id", ID_SCHEMA, OpenApiParameter.PATH)
PAGE_PARAMS = [
    OpenApiParameter(
        "first_result",
        {"type": "integer", "minimum": 0, "maximum": 2**63 - 1},
        description="Offset, default 0.",
    ),
    OpenApiParameter(
        "max_results",
        {"type": "integer", "minimum": 1, "maximum": 1000},
        description="Page size, default 100, at most 1000.",
    ),
]
