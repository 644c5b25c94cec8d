"""Routes that exist only for the benchmark (bench/ingest), mounted when the BENCH_ENDPOINTS setting is on.

`bare_json` is the floor an ingestion route is compared with: the same Django stack and middleware, the same body
reading and JSON parsing, and an answer of the same shape, but no authentication, no database and no broker.
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from apps.core.bodies import BodyTooLarge, BodyUnreadable, body_bytes, json_loads
from apps.core.errors import ApiError, mics_ok

BARE_MAX_BYTES = 512 * 1024


@csrf_exempt
def bare_json(request: HttpRequest) -> JsonResponse:
    """Parses the JSON body and answers 200: what any JSON route costs before doing its own work."""
    if request.method != "POST":
        raise ApiError(405, f"Method {request.method} not allowed; use POST")
    try:
        body = json_loads(body_bytes(request, limit=BARE_MAX_BYTES))
    except BodyTooLarge:
        raise ApiError(413, f"The body exceeds {BARE_MAX_BYTES} bytes") from None
    except BodyUnreadable as exc:
        raise ApiError(400, str(exc), "MALFORMED_JSON") from None
    return mics_ok({"parsed": isinstance(body, dict)})


urlpatterns = [path("bench/bare", bare_json)]
