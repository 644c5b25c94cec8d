"""The base of every mediarithmics-dialect DRF view: tenancy, scopes and the error format, in one place.

Like PostHog's TeamAndOrgViewSetMixin, the datamart is resolved from the path and the key here, so that a view
cannot forget it: views read `self.datamart_id` and `self.api_key`, never the raw path.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import Http404
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.db import read_snapshot
from apps.core.errors import ApiError, FieldError, mics_error_logged, not_found
from apps.core.validation import InputInvalid, int64_text
from apps.datamarts.auth import authenticate
from apps.datamarts.models import ApiKey, Scope

SCOPE_BY_METHOD = {"GET": Scope.READ, "HEAD": Scope.READ, "OPTIONS": Scope.READ}


def mics_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's own errors (parse errors, 405, 415) rendered in the mediarithmics format."""
    if isinstance(exc, ApiError):
        error = exc
    elif isinstance(exc, RequestDataTooBig):
        error = ApiError(413, "The body is too large")
    elif isinstance(exc, Http404):
        error = not_found()
    elif isinstance(exc, exceptions.ParseError):
        error = ApiError(400, f"The body is not valid JSON: {exc.detail}", "MALFORMED_JSON")
    elif isinstance(exc, exceptions.UnsupportedMediaType):
        error = ApiError(415, "The body must be application/json")
    elif isinstance(exc, exceptions.MethodNotAllowed):
        error = ApiError(405, str(exc.detail))
    elif isinstance(exc, exceptions.APIException):
        error = ApiError(exc.status_code, str(exc.detail))
    else:
        return None  # DialectErrorMiddleware answers 500 with an error id
    return Response(mics_error_logged(error), status=error.status)


class MicsAPIView(APIView):
    """Authenticates the key for the datamart of the path with the scope the method needs (read / write)."""

    datamart_id: int
    api_key: ApiKey
    # GET and HEAD run in one read snapshot (read_snapshot) unless a view answers from one statement, or opens the
    # snapshot itself where it needs one, and says so here.
    snapshot_read = True

    def get_exception_handler(self) -> Any:
        return mics_exception_handler

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        # A read resolves its selector and reads the point's data in one snapshot (spec 7).
        if request.method in ("GET", "HEAD") and self.snapshot_read:
            with read_snapshot():
                return super().dispatch(request, *args, **kwargs)
        return super().dispatch(request, *args, **kwargs)

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        scope = SCOPE_BY_METHOD.get(request.method or "GET", Scope.WRITE)
        self.api_key = authenticate(request._request, datamart_id=kwargs["datamart_id"], scope=scope)
        self.datamart_id = self.api_key.datamart_id


def page_params(request: Request) -> tuple[int, int]:
    """`first_result` (default 0) and `max_results` (default 100, at most 1000), spec 1.1."""
    try:
        first = int64_text(str(request.query_params.get("first_result", "0")), "first_result", minimum=0)
        size = int64_text(str(request.query_params.get("max_results", "100")), "max_results", minimum=1, maximum=1000)
    except InputInvalid as exc:
        raise ApiError(400, str(exc), "VALIDATION_ERROR", [FieldError(str(exc).split()[0], str(exc))]) from None
    return first, size


def ok(data: Any) -> Response:
    return Response({"status": "ok", "data": data})


def listing(data: list[Any], *, total: int, first_result: int, max_results: int) -> Response:
    return Response(
        {
            "status": "ok",
            "data": data,
            "count": len(data),
            "total": total,
            "first_result": first_result,
            "max_results": max_results,
        }
    )
