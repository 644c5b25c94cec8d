"""The console shows times in its reader's time zone: console/timezone.js puts the browser's IANA zone name in a
cookie, and this middleware activates it for console pages. Until the cookie exists (the first page, a browser
without JavaScript) pages are in UTC. Every date shown carries its zone's abbreviation, so a time is never ambiguous.
The APIs are untouched: they speak epoch milliseconds and UTC ISO strings whatever the reader's zone."""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from functools import lru_cache
from urllib.parse import unquote

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

COOKIE = "console_tz"
CONSOLE_PREFIX = "/admin/"


@lru_cache(maxsize=512)
def zone_named(name: str) -> zoneinfo.ZoneInfo | None:
    """The zone of an IANA name ("Europe/Paris"), None for anything else (the cookie is the client's word)."""
    if not name or len(name) > 64 or not all(c.isalnum() or c in "/_+-" for c in name):
        return None
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


class ConsoleTimeZoneMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # The script URL-encodes the name (Europe%2FParis): cookies may not hold every character a name may.
        named = unquote(request.COOKIES.get(COOKIE, ""))
        zone = zone_named(named) if request.path.startswith(CONSOLE_PREFIX) else None
        if zone is None:
            return self.get_response(request)
        timezone.activate(zone)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
