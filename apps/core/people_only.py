"""The console's middleware, run for people's pages only: programs calling the APIs skip what only a person uses.

A sign-in session, its user and the messages shown after an action serve the console. No API view reads them (the
APIs authenticate by key; REST_FRAMEWORK has no authentication class), yet each one cost every API request its
share: the messages alone build a cookie signer and two storages per request. With the console's
Content-Security-Policy, which django-csp builds again for each answer, they were about 40 % of a bare JSON view's
CPU in one process, and 15 to 25 % under gunicorn (bench/accept_profile.py, bench/ingest; docs/scaling.md).

Each class here is the library's own middleware, unchanged for every other path. django-axes' stays as it is: it
costs a program's request one attribute read, and its system check looks for its own name in MIDDLEWARE.
"""

from __future__ import annotations

from typing import Any

from csp.constants import HEADER
from csp.middleware import CSPMiddleware
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.http import HttpRequest
from django.http.response import HttpResponseBase

from apps.core.middleware import API_PREFIXES, PROGRAM_POLICY

# Where the clients are programs: the ingestion and read/write APIs, the load balancer's health check, and the
# benchmark's bare view (bench/ingest), which must cost what an API route's stack costs.
PROGRAM_PREFIXES = (*API_PREFIXES, "/healthz", "/bench/")


def for_programs(request: HttpRequest) -> bool:
    return request.path_info.startswith(PROGRAM_PREFIXES)


class _PeopleOnly:
    """Passes a program's request straight on to the next middleware."""

    get_response: Any

    def __call__(self, request: HttpRequest) -> Any:
        if for_programs(request):
            return self.get_response(request)
        return super().__call__(request)  # type: ignore[misc]


class PeopleSessionMiddleware(_PeopleOnly, SessionMiddleware):
    """Django's SessionMiddleware: the console's sign-in session."""


class PeopleAuthenticationMiddleware(_PeopleOnly, AuthenticationMiddleware):
    """Django's AuthenticationMiddleware: `request.user`, for the console."""


class PeopleMessageMiddleware(_PeopleOnly, MessageMiddleware):
    """Django's MessageMiddleware: the messages the console shows after an action."""


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """The console's policy (settings.CONTENT_SECURITY_POLICY) on every page, the API docs' included; a fixed, stricter
    one on an API's answers that are not pages, instead of building the console's again for each of them."""

    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        if for_programs(request) and not response.get("Content-Type", "").startswith("text/html"):
            if HEADER not in response:
                response[HEADER] = PROGRAM_POLICY
            return response
        return super().process_response(request, response)
