"""Cross-origin requests on the ingestion routes (spec 5), in one place.

Browser libraries (analytics-next, RudderStack's analytics-js) run on a website's origin and post to the
collector's: the browser asks first (a preflight `OPTIONS`), then sends the request only if the answer allows it,
and lets the page read the answer only if it carries `Access-Control-Allow-Origin`. Ingestion routes are marked with
`ingestion_route`; this middleware answers their preflights itself (before the view: no key, no rate limit counted)
and adds the CORS headers to all their answers, errors included. Which origins a datamart accepts is decided once the
key is known (`origin_refusal`), by the dialect's view, so the refusal comes in the dialect's own error format.

The read/write API is not for browsers: django-cors-headers serves it, only for `API_CORS_ALLOWED_ORIGINS`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from django.http import HttpRequest, HttpResponse

PREFLIGHT_MAX_AGE = "86400"
_MARK = "ingestion_methods"
# Response headers a page's script may read: the Braze rate-limit headers, and Retry-After, which a browser hides
# from a script on another origin unless listed here: @segment/analytics-next waits what a 429's Retry-After says
# (backpressure, apps/activities/backpressure.py) only when it can read it, and falls back to its own backoff,
# which spends its limited retries, when it cannot.
EXPOSED_HEADERS = "Retry-After, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset"
# A header name as RFC 9110 allows it: what a preflight may ask for is echoed, nothing else.
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_ORIGIN = re.compile(r"^(https?)://([a-z0-9.-]+|\[[0-9a-f:.]+\])(?::(\d{1,5}))?$")

View = TypeVar("View", bound=Callable[..., Any])


def ingestion_route(*methods: str) -> Callable[[View], View]:
    """Marks a view as an ingestion route answering `methods` (CORS for any origin a datamart allows)."""

    def mark(view: View) -> View:
        setattr(view, _MARK, tuple(methods))
        return view

    return mark


def origin_normalise(text: str) -> str:
    """`HTTPS://Shop.Example.com:443` → `https://shop.example.com`; ValueError if it is not an origin (a scheme,
    a host and an optional port: no path). `null` (sandboxed pages, `file:` URLs) is an origin too."""
    value = text.strip().lower().rstrip("/")
    if value == "null":
        return value
    match = _ORIGIN.match(value)
    if not match:
        raise ValueError(f"{text!r} is not an origin: scheme://host[:port], without a path")
    scheme, host, port = match.groups()
    if port is not None:
        if int(port) > 65535:
            raise ValueError(f"{text!r}: the port is out of range")
        if (scheme, port) in (("http", "80"), ("https", "443")):
            port = None  # browsers leave the default port out of Origin
    return f"{scheme}://{host}" + (f":{port}" if port else "")


def origins_normalise(values: Iterable[str]) -> list[str]:
    """A datamart's allowed origins, normalised, in order, without repeats; ValueError naming a bad one."""
    result: list[str] = []
    for value in values:
        if not value.strip():
            continue
        origin = origin_normalise(value)
        if origin not in result:
            result.append(origin)
    return result


def origin_refusal(request: HttpRequest, allowed_origins: Sequence[str]) -> str | None:
    """Why the request's `Origin` may not send to a datamart with these allowed origins; None if it may.
    An empty list allows every origin; a request without `Origin` (from a server) is never refused."""
    origin = request.headers.get("Origin")
    if not origin or not allowed_origins:
        return None
    try:
        if origin_normalise(origin) in allowed_origins:
            return None
    except ValueError:
        pass
    return f"Origin {origin[:200]} is not allowed to send to this datamart"


def _is_preflight(request: HttpRequest) -> bool:
    return (
        request.method == "OPTIONS"
        and "Origin" in request.headers
        and "Access-Control-Request-Method" in request.headers
    )


def _requested_headers(request: HttpRequest) -> str:
    asked = request.headers.get("Access-Control-Request-Headers", "")
    names = [name.strip() for name in asked.split(",")]
    return ", ".join(name for name in names if name and _TOKEN.match(name))


class IngestionCorsMiddleware:
    """Preflights and CORS headers of the routes marked with `ingestion_route`."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        methods: tuple[str, ...] | None = getattr(request, _MARK, None)
        origin = request.headers.get("Origin")
        if methods is not None and origin:
            response["Access-Control-Allow-Origin"] = origin
            response["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
            _vary_origin(response)
        return response

    def process_view(
        self, request: HttpRequest, view: Callable[..., Any], args: Any, kwargs: Any
    ) -> HttpResponse | None:
        methods = getattr(view, _MARK, None)
        if methods is None:
            return None
        setattr(request, _MARK, methods)  # the request serves this one request: __call__ reads it back
        if not _is_preflight(request):
            return None
        response = HttpResponse(status=204)
        response["Access-Control-Allow-Methods"] = ", ".join((*methods, "OPTIONS"))
        requested = _requested_headers(request)
        if requested:
            response["Access-Control-Allow-Headers"] = requested
        response["Access-Control-Max-Age"] = PREFLIGHT_MAX_AGE
        return response


def _vary_origin(response: HttpResponse) -> None:
    vary = [v.strip() for v in response.get("Vary", "").split(",") if v.strip()]
    if "origin" not in (v.lower() for v in vary):
        vary.append("Origin")
    response["Vary"] = ", ".join(vary)
