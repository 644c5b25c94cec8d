"""The mediarithmics error format (spec 1.1), shared by every route under /v1/datamarts/."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.http import JsonResponse

logger = logging.getLogger("trackingconsole.api")

ERROR_CODES_BY_STATUS = {
    400: "VALIDATION_ERROR",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "RESOURCE_NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "RATE_LIMITED",
    500: "INTERNAL_ERROR",
}


@dataclass
class FieldError:
    field: str
    message: str


@dataclass
class ApiError(Exception):
    """An error answered to the client; `details` lists the fields at fault for validation errors."""

    status: int
    message: str
    code: str = ""
    details: list[FieldError] = field(default_factory=list)
    allow: str = ""  # the route's methods, for a 405's Allow header
    retry_after: int | None = None  # seconds, for a 429's Retry-After header

    def __post_init__(self) -> None:
        if not self.code:
            self.code = ERROR_CODES_BY_STATUS.get(self.status, "ERROR")


def not_found() -> ApiError:
    return ApiError(404, "Resource Not Found", "RESOURCE_NOT_FOUND")


def mics_error_body(error: ApiError, error_id: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "status": "error",
        "error": error.message,
        "error_code": error.code,
        "error_id": error_id or str(uuid.uuid4()),
    }
    if error.details:
        body["details"] = [{"field": d.field, "message": d.message} for d in error.details]
    return body


def mics_error_logged(error: ApiError) -> dict[str, Any]:
    """The error body; its id is logged so an operator can find the request from what the client reports."""
    body = mics_error_body(error)
    logger.info("api error %s %s %s %s", body["error_id"], error.status, error.code, error.message)
    return body


def mics_error_response(error: ApiError) -> JsonResponse:
    response = JsonResponse(mics_error_logged(error), status=error.status)
    if error.allow:
        response["Allow"] = error.allow
    if error.retry_after is not None:
        response["Retry-After"] = str(error.retry_after)
    return response


def mics_ok(data: Any, status: int = 200) -> JsonResponse:
    return JsonResponse({"status": "ok", "data": data}, status=status)
