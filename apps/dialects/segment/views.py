"""The Segment-style HTTP Tracking API as MetaRouter documents it (spec 2): plain Django views, the hot path.

Each route authenticates the write key, validates, translates (translate.py) and commits the canonical payloads
to the inbox before it answers; the pipeline does the rest, as for every dialect.
"""

from __future__ import annotations

import base64
import binascii
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from apps.activities.backpressure import backlog_message, inbox_retry_after
from apps.activities.inbox import inbox_accept_many
from apps.activities.models import Source
from apps.core import fastjson
from apps.core.bodies import BodyTooLarge, BodyUnreadable, body_bytes
from apps.core.cors import ingestion_route, origin_refusal
from apps.datamarts.keys import key_from_body, key_from_headers
from apps.datamarts.models import ApiKey, Scope
from apps.datamarts.selectors import api_key_get_active, compartments_of, request_signals
from apps.dialects.segment.services import pixel_refusal_record
from apps.dialects.segment.translate import (
    BATCH_MAX_BYTES,
    MESSAGE_MAX_BYTES,
    BatchTooLarge,
    MessageInvalid,
    MessageTooLarge,
    Translated,
    call_type_of,
    translate_batch,
    translate_message,
)

logger = logging.getLogger("trackingconsole.segment")

INVALID_KEY = "Invalid or missing writekey"
# The smallest transparent GIF: what a tracking pixel answers, whatever happened.
PIXEL_GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")

REASONS = {
    400: "Bad Request",
    403: "Forbidden",
    405: "Method Not Allowed",
    413: "Request Entity Too Large",
    415: "Unsupported Media Type",
    429: "Too Many Requests",
    500: "Internal Server Error",
}
CODES = {
    400: "bad_request",
    403: "forbidden",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
    500: "internal_error",
}


class SegmentError(Exception):
    def __init__(
        self, status: int, message: str, details: str = "", allow: str = "", retry_after: int | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details
        self.allow = allow  # a 405's Allow header
        self.retry_after = retry_after  # a 429's Retry-After header, in seconds


def _with_allow(response: JsonResponse, error: SegmentError) -> JsonResponse:
    if error.allow:
        response["Allow"] = error.allow
    if error.retry_after is not None:
        response["Retry-After"] = str(error.retry_after)
    return response


def _single_error(error: SegmentError) -> JsonResponse:
    # "Error"/"Message"/"Details" as MetaRouter answers; "code"/"message" is what the Segment libraries read.
    return _with_allow(
        JsonResponse(
            {
                "Error": REASONS.get(error.status, "Bad Request"),
                "Message": error.message,
                "Details": error.details,
                "code": CODES.get(error.status, "bad_request"),
                "message": error.details or error.message,
            },
            status=error.status,
        ),
        error,
    )


def _batch_error_body(status: int, entries: list[tuple[str, str]], summary: str) -> dict[str, Any]:
    return {
        "Success": False,
        "Errors": [{"Error": REASONS.get(status, "Bad Request"), "Message": m, "Details": d} for m, d in entries],
        # The libraries that treat anything but 200 as a failure read these two (and give up instead of retrying
        # a 4xx; a retried batch would only be deduplicated anyway).
        "code": CODES.get(status, "bad_request"),
        "message": summary,
    }


def _batch_error(error: SegmentError) -> JsonResponse:
    body = _batch_error_body(error.status, [(error.message, error.details)], error.details or error.message)
    return _with_allow(JsonResponse(body, status=error.status), error)


SUCCESS = {"success": True}


def _guarded(
    render_error: Callable[[SegmentError], JsonResponse],
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Answers SegmentError in the route's format, and anything unexpected as a logged 500 in that format too."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            try:
                return view(request, *args, **kwargs)
            except SegmentError as exc:
                return render_error(exc)
            except RecursionError:  # json.dumps of a payload nested just under json.loads' limit
                return render_error(SegmentError(400, "Invalid JSON", "the body is nested too deeply"))
            except DatabaseError:
                error_id = str(uuid.uuid4())
                logger.exception("segment route failed, error id %s", error_id)
                # Nothing was committed, so the client may retry: a 5xx says so to every Segment library.
                return render_error(SegmentError(500, "The payload could not be stored; retry", error_id))

        wrapped.__name__ = view.__name__
        wrapped.__doc__ = view.__doc__
        return csrf_exempt(wrapped)

    return decorate


@dataclass(frozen=True)
class Body:
    value: Any
    size: int
    check_strings: bool


def _parse(raw: bytes) -> Body:
    try:
        value, may_have_problem = fastjson.parse(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise SegmentError(400, "Invalid JSON", f"the body is not valid JSON: {exc}") from None
    except RecursionError:
        raise SegmentError(400, "Invalid JSON", "the body is nested too deeply") from None
    # The walk over every string and level (spec 7) runs only where it can find something.
    return Body(value, len(raw), may_have_problem)


def _read_json(request: HttpRequest, *, limit: int) -> Body:
    # Whatever the Content-Type (spec 5): libraries send application/json, text/plain (browsers, to avoid a
    # preflight; sendBeacon) and, gzipped, application/x-www-form-urlencoded (rudder-sdk-node). The body decides.
    try:
        raw = body_bytes(request, limit=limit)
    except BodyTooLarge:
        raise SegmentError(413, "Error reading request body", f"the body exceeds {limit} bytes") from None
    except BodyUnreadable as exc:
        raise SegmentError(400, "Error reading request body", str(exc)) from None
    return _parse(raw)


def _api_key(request: HttpRequest, body: Any, *, query_key: bool) -> ApiKey:
    """The write key: `?writeKey=` where allowed (it overrides the data, as a webhook's), the headers, the body."""
    raw = request.GET.get("writeKey") if query_key else None
    raw = raw or key_from_headers(request.headers) or key_from_body(body)
    api_key = api_key_get_active(raw_key=raw) if raw else None
    if api_key is None:
        raise SegmentError(400, INVALID_KEY)
    if not api_key.has_scope(Scope.INGEST):
        raise SegmentError(403, "This write key lacks the 'ingest' scope")
    if refusal := origin_refusal(request, api_key.datamart.allowed_origins):
        raise SegmentError(403, "Origin not allowed", refusal)
    return api_key


def _compartment_id(api_key: ApiKey) -> int:
    """The key's compartment, else the datamart's default: Segment user ids carry no compartment (spec 0)."""
    if api_key.compartment_id is not None:
        return api_key.compartment_id
    _ids, default_id = compartments_of(datamart_id=api_key.datamart_id)
    assert default_id is not None, "every datamart has a default compartment"
    return default_id


def _accept(api_key: ApiKey, translated: list[Translated]) -> None:
    inbox_accept_many(
        datamart_id=api_key.datamart_id,
        source=Source.SEGMENT,
        payloads=[(t.payload, t.unique_key) for t in translated],
    )


def _one(request: HttpRequest, api_key: ApiKey, body: Body, call_type: str | None, received_at: datetime) -> None:
    if body.size > MESSAGE_MAX_BYTES:
        raise SegmentError(413, "Request Entity Too Large", str(MessageTooLarge(body.size)))
    try:
        translated = translate_message(
            body.value,
            call_type=call_type,
            compartment_id=_compartment_id(api_key),
            received_at=received_at,
            check_strings=body.check_strings,
            signals=request_signals(request, datamart_id=api_key.datamart_id),
        )
    except MessageInvalid as exc:
        raise SegmentError(400, "Invalid message", str(exc)) from None
    _accept(api_key, [translated])


def _many(request: HttpRequest, api_key: ApiKey, body: Body, received_at: datetime) -> JsonResponse:
    try:
        result = translate_batch(
            body.value,
            compartment_id=_compartment_id(api_key),
            received_at=received_at,
            body_size=body.size,
            check_strings=body.check_strings,
            signals=request_signals(request, datamart_id=api_key.datamart_id),
        )
    except (BatchTooLarge, MessageTooLarge) as exc:
        raise SegmentError(413, "Request Entity Too Large", str(exc)) from None
    except MessageInvalid as exc:
        raise SegmentError(400, "Invalid batch", str(exc)) from None
    _accept(api_key, result.accepted)
    if not result.errors:
        return JsonResponse(SUCCESS)
    entries = [("Invalid message", e) for e in result.errors]
    summary = f"{len(result.errors)} of {len(result.errors) + len(result.accepted)} messages are invalid"
    if not result.accepted:
        return JsonResponse(_batch_error_body(400, entries, f"{summary}: {result.errors[0]}"), status=400)
    return JsonResponse(_batch_error_body(207, entries, summary), status=207)


def _method(request: HttpRequest, allowed: str) -> None:
    if request.method != allowed:
        raise SegmentError(405, f"Method {request.method} not allowed; use {allowed}", allow=f"{allowed}, OPTIONS")


def _admit() -> None:
    """Backpressure (apps/activities/backpressure.py): a 429 the Segment libraries retry. Not on the pixel and beacon
    routes, whose senders (an image tag, navigator.sendBeacon) never retry."""
    if (retry_after := inbox_retry_after()) is not None:
        raise SegmentError(429, "Too Many Requests", backlog_message(retry_after), retry_after=retry_after)


@ingestion_route("POST")
@_guarded(_single_error)
def single(request: HttpRequest, call: str) -> HttpResponse:
    """POST /v1/{identify,track,page,screen,group,alias} and their one-letter forms: one message."""
    _method(request, "POST")
    call_type = call_type_of(call)
    assert call_type is not None, "the URL pattern only routes call names"
    body = _read_json(request, limit=MESSAGE_MAX_BYTES)
    api_key = _api_key(request, body.value, query_key=False)
    _admit()
    _one(request, api_key, body, call_type, timezone.now())
    return JsonResponse(SUCCESS)


@ingestion_route("POST")
@_guarded(_batch_error)
def batch(request: HttpRequest) -> HttpResponse:
    """POST /v1/batch, /v1/b, /v1/import: `{"batch": [...], "context": ..., "integrations": ..., "sentAt": ...}`."""
    _method(request, "POST")
    body = _read_json(request, limit=BATCH_MAX_BYTES)
    api_key = _api_key(request, body.value, query_key=False)
    _admit()
    return _many(request, api_key, body, timezone.now())


@ingestion_route("POST")
@_guarded(_batch_error)
def beacon_batch(request: HttpRequest) -> HttpResponse:
    """POST /beacon/v1/batch?writeKey=: RudderStack's beacon transport (navigator.sendBeacon can set no header,
    so the key comes in the query), a batch body sent as text/plain."""
    _method(request, "POST")
    body = _read_json(request, limit=BATCH_MAX_BYTES)
    api_key = _api_key(request, body.value, query_key=True)
    return _many(request, api_key, body, timezone.now())


@ingestion_route("POST")
@csrf_exempt
def client_metrics(request: HttpRequest) -> HttpResponse:
    """POST /v1/m: analytics-next reports its own delivery metrics here; acknowledged, not stored (spec 5)."""
    if request.method != "POST":
        return _single_error(SegmentError(405, f"Method {request.method} not allowed; use POST", allow="POST, OPTIONS"))
    return JsonResponse(SUCCESS)


@ingestion_route("POST")
@_guarded(_single_error)
def webhook(request: HttpRequest) -> HttpResponse:
    """POST /v1/webhook, /v1/w?writeKey=: one Analytics.js message with its `type`, or a batch body."""
    _method(request, "POST")
    body = _read_json(request, limit=BATCH_MAX_BYTES)
    api_key = _api_key(request, body.value, query_key=True)
    _admit()
    if isinstance(body.value, dict) and "batch" in body.value:
        return _many(request, api_key, body, timezone.now())
    _one(request, api_key, body, None, timezone.now())
    return JsonResponse(SUCCESS)


def _gif() -> HttpResponse:
    response = HttpResponse(PIXEL_GIF, content_type="image/gif")
    response["Cache-Control"] = "no-store, max-age=0"
    return response


@ingestion_route("GET")
@csrf_exempt
def pixel(request: HttpRequest, call: str) -> HttpResponse:
    """GET /v1/pixel/{type}?data=<base64 JSON>: always a 1x1 GIF; a refused message is logged and, when its
    datamart is known, recorded as a processing error the console shows (spec 2)."""
    api_key: ApiKey | None = None
    try:
        # The key of the query or headers first, so that undecodable data is still recorded for its datamart.
        try:
            api_key = _api_key(request, None, query_key=True)
        except SegmentError:
            api_key = None
        _method(request, "GET")
        call_type = call_type_of(call)
        assert call_type is not None, "the URL pattern only routes call names"
        data = request.GET.get("data", "")
        if not data:
            raise SegmentError(400, "Invalid message", "data: is required, base64 JSON")
        body = _pixel_body(data)
        if api_key is None:
            api_key = _api_key(request, body.value, query_key=True)
        _one(request, api_key, body, call_type, timezone.now())
    except SegmentError as exc:
        pixel_refusal_record(
            api_key=api_key, call=call, reason=f"{exc.message}: {exc.details}" if exc.details else exc.message
        )
    except RecursionError:
        pixel_refusal_record(api_key=api_key, call=call, reason="Invalid JSON: the data is nested too deeply")
    except DatabaseError:
        logger.exception("segment pixel could not be stored")
    return _gif()


def _pixel_body(data: str) -> Body:
    if len(data) > MESSAGE_MAX_BYTES * 4 // 3 + 4:
        raise SegmentError(413, "Request Entity Too Large", f"data: the message exceeds {MESSAGE_MAX_BYTES} bytes")
    text = data.strip().replace(" ", "+")  # a '+' not percent-encoded in a query string arrives as a space
    try:
        # Standard or URL-safe alphabet, padding optional: browsers and tag managers produce all of them.
        raw = base64.b64decode(text.replace("-", "+").replace("_", "/") + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise SegmentError(400, "Invalid message", "data: is not base64") from None
    return _parse(raw)
