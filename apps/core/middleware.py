"""Keeps every answer under an API prefix in its dialect's error format, even for unknown routes and crashes."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable

from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse

from apps.core.errors import ApiError, mics_error_body, mics_error_response
from apps.core.validation import text_problem

logger = logging.getLogger("trackingconsole.api")

MICS_PREFIX = "/v1/datamarts/"
# Where clients are programs: an unexpected error is answered in JSON with an error id, not an HTML page.
API_PREFIXES = ("/v1/", "/users/", "/api/", "/beacon/")
# The Content-Security-Policy of an API's answer that is not a page: load nothing, and do not be framed (OWASP's
# advice for REST answers). A JSON answer or a pixel runs no script; the policy is there in case a browser is made to
# render one. Pages, the API docs' included, carry the console's (settings.CONTENT_SECURITY_POLICY).
PROGRAM_POLICY = "default-src 'none'; frame-ancestors 'none'"


def _path_or_query_problem(request: HttpRequest) -> str | None:
    if problem := text_problem(request.path):
        return f"the path {problem}"
    for name, values in request.GET.lists():
        for text in (name, *values):
            if problem := text_problem(text):
                return f"the query parameter {name[:64]!r} {problem}"
    return None


def dialect_error(request: HttpRequest, status: int, message: str) -> JsonResponse:
    """An error in the format of the dialect whose prefix the path has: mediarithmics under /v1/datamarts/,
    Segment elsewhere under /v1/ (its libraries read `code` and `message`), Braze under /users/, Thrivestack under
    /api/."""
    path = request.path
    if path.startswith(MICS_PREFIX):
        return mics_error_response(ApiError(status, message))
    if path.startswith(("/v1/", "/beacon/")):
        reason = {400: "Bad Request", 404: "Not Found"}.get(status, "Error")
        code = {400: "bad_request", 404: "not_found"}.get(status, "error")
        body = {"Error": reason, "Message": message, "Details": "", "code": code, "message": message}
        return JsonResponse(body, status=status)
    if path.startswith("/users/"):
        return JsonResponse({"message": message, "errors": [{"type": message}]}, status=status)
    return JsonResponse({"success": False, "message": message, "response_id": str(uuid.uuid4())}, status=status)


class DialectErrorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self._answer(request)
        if request.path.startswith(API_PREFIXES):
            # An answer made here has not passed the middleware below (security headers, the policy): what they add
            # to every API answer, added here too. Answers that passed them keep theirs.
            response.setdefault("Content-Security-Policy", PROGRAM_POLICY)
            response.setdefault("X-Content-Type-Options", "nosniff")
        return response

    def _answer(self, request: HttpRequest) -> HttpResponse:
        # The pixel always answers its GIF and records its refusals itself (spec 2).
        checked = request.path.startswith(API_PREFIXES) and not request.path.startswith("/v1/pixel/")
        if checked and (problem := _path_or_query_problem(request)):
            # Before any view: a NUL in a path or a query value would reach the database (spec 7).
            return dialect_error(request, 400, problem)
        response = self.get_response(request)
        if response.status_code not in (404, 405) or response.get("Content-Type", "").startswith("application/json"):
            return response
        if request.path.startswith(MICS_PREFIX):
            if response.status_code == 404:
                return mics_error_response(ApiError(404, "Resource Not Found"))
            error = mics_error_response(ApiError(405, f"Method {request.method} not allowed"))
            if response.has_header("Allow"):
                error["Allow"] = response["Allow"]
            return error
        if response.status_code == 404 and request.path.startswith(API_PREFIXES):
            # A client library posting to a route we do not have reads a JSON error, never an HTML page.
            return dialect_error(request, 404, f"No route {request.path[:200]}")
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
