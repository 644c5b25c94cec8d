"""Keeps every answer under an API prefix in its dialect's error format, even for unknown routes and crashes."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable

from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse

from apps.core.errors import ApiError, mics_error_body, mics_error_response

logger = logging.getLogger("trackingconsole.api")

MICS_PREFIX = "/v1/datamarts/"
# Where clients are programs: an unexpected error is answered in JSON with an error id, not an HTML page.
API_PREFIXES = ("/v1/", "/users/", "/api/", "/beacon/")


class DialectErrorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code not in (404, 405) or response.get("Content-Type", "").startswith("application/json"):
            return response
        if request.path.startswith(MICS_PREFIX):
            if response.status_code == 404:
                return mics_error_response(ApiError(404, "Resource Not Found"))
            return mics_error_response(ApiError(405, f"Method {request.method} not allowed"))
        if response.status_code == 404 and request.path.startswith(API_PREFIXES):
            # A client library posting to a route we do not have reads a JSON error, never an HTML page. Under
            # /v1/ in the Segment format (its libraries read `code` and `message`).
            message = f"No route {request.path[:200]}"
            if request.path.startswith("/v1/"):
                body = {
                    "Error": "Not Found",
                    "Message": message,
                    "Details": "",
                    "code": "not_found",
                    "message": message,
                }
                return JsonResponse(body, status=404)
            return JsonResponse({"success": False, "message": message}, status=404)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        is_mics = request.path.startswith(MICS_PREFIX)
        if isinstance(exception, ApiError):
            return mics_error_response(exception)
        if is_mics and isinstance(exception, RequestDataTooBig):
            return mics_error_response(ApiError(413, "The body is too large"))
        if is_mics and isinstance(exception, Http404):
            return mics_error_response(ApiError(404, "Resource Not Found"))
        if is_mics and isinstance(exception, PermissionDenied):
            return mics_error_response(ApiError(403, "Forbidden"))
        if is_mics and isinstance(exception, SuspiciousOperation):
            return mics_error_response(ApiError(400, "Bad request"))
        if isinstance(exception, (Http404, PermissionDenied, SuspiciousOperation)):
            return None  # Django answers these itself (404, 403, 400 pages) outside the API
        if not request.path.startswith(API_PREFIXES):
            return None  # the console: Django logs it and renders its own 500 page
        error_id = str(uuid.uuid4())
        # The traceback goes to the log under the error id, never to the client.
        logger.exception("unhandled error %s on %s %s", error_id, request.method, request.path)
        if is_mics:
            error = ApiError(500, "Internal error; quote the error_id to the operator", "INTERNAL_ERROR")
            return JsonResponse(mics_error_body(error, error_id), status=500)
        return JsonResponse({"error": "Internal error", "error_id": error_id}, status=500)
