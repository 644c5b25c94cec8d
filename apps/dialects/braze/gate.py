"""What the Braze and Thrivestack routes do before translating: read the body, find the key, count the request.

The views turn the outcome into their own dialect's error format; this module only decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest

from apps.core.bodies import BodyTooLarge, BodyUnreadable, body_bytes, is_json_content_type, json_loads
from apps.core.cors import origin_refusal
from apps.datamarts.keys import key_from_headers
from apps.datamarts.models import ApiKey, Scope
from apps.datamarts.selectors import api_key_get_active
from apps.dialects.braze.ratelimit import RateLimit, bucket_of, rate_limit_hit


@dataclass
class Refusal:
    status: int
    message: str
    allow: str = ""  # a 405's Allow header


@dataclass
class Gate:
    api_key: ApiKey | None
    rate: RateLimit
    body: Any = None
    refusal: Refusal | None = None


def request_gate(
    request: HttpRequest, *, scope: str, limit: int, max_bytes: int, body_key_field: str | None = None
) -> Gate:
    """The request's key, its rate-limit count, its parsed body, and the first reason to refuse it, if any.

    Refusals come in this order: 429 (over the key's limit), 401 (no or unknown key), 403 (no ingest scope),
    405, 415, 413, 400 (not JSON). A request without a valid key is counted against its client address, so
    every answer can carry the rate-limit headers and guessing keys is limited too.
    """
    body: Any = None
    body_refusal: Refusal | None = None
    if request.method != "POST":
        body_refusal = Refusal(405, f"Method {request.method} not allowed; use POST", allow="POST, OPTIONS")
    elif not is_json_content_type(request):
        body_refusal = Refusal(415, "The body must be JSON (Content-Type: application/json)")
    else:
        try:
            body = json_loads(body_bytes(request, limit=max_bytes))
        except BodyTooLarge:
            body_refusal = Refusal(413, f"The body exceeds {max_bytes} bytes")
        except BodyUnreadable as exc:
            body_refusal = Refusal(400, str(exc))

    raw_key = key_from_headers(request.headers)
    if raw_key is None and body_key_field and isinstance(body, dict):
        value = body.get(body_key_field)
        raw_key = value if isinstance(value, str) and value else None
    api_key = api_key_get_active(raw_key=raw_key) if raw_key else None
    if api_key is not None:
        bucket = bucket_of("key", api_key.key_hash)
    else:
        bucket = bucket_of("addr", request.META.get("REMOTE_ADDR") or "unknown")
    rate = rate_limit_hit(scope=scope, bucket=bucket, limit=limit)
    gate = Gate(api_key=api_key, rate=rate, body=body)
    if rate.exceeded:
        gate.refusal = Refusal(429, "Rate limit exceeded; retry after X-RateLimit-Reset")
    elif api_key is None:
        gate.refusal = Refusal(401, "Invalid API key")
    elif not api_key.has_scope(Scope.INGEST):
        gate.refusal = Refusal(403, "This API key lacks the 'ingest' scope")
    elif origin_problem := origin_refusal(request, api_key.datamart.allowed_origins):
        gate.refusal = Refusal(403, origin_problem)
    else:
        gate.refusal = body_refusal
    return gate
