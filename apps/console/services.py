"""Console services: the access log (spec 8)."""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Iterable

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone

from apps.console.models import AccessEvent, AccessLogEntry

QUERY_MAX = 500
PATH_MAX = 500


def client_ip(request: HttpRequest) -> str | None:
    """The address the request came from. Behind a reverse proxy (`ACCESS_LOG_TRUST_X_FORWARDED_FOR`), the last
    address the proxy appended to X-Forwarded-For: the earlier ones are whatever the client chose to send."""
    if settings.ACCESS_LOG_TRUST_X_FORWARDED_FOR:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if forwarded:
            return _address_or_none(forwarded[-1])
    return _address_or_none(request.META.get("REMOTE_ADDR", ""))


def _address_or_none(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def access_log_record(
    *,
    request: HttpRequest,
    event: AccessEvent,
    datamart_ids: Iterable[int | None],
    user_point_id: uuid.UUID | str | None = None,
    query: str = "",
) -> list[AccessLogEntry]:
    """Appends one entry per datamart concerned (who, when, what, from where), in the caller's request and
    transaction. Entries are never changed nor deleted afterwards."""
    user = request.user
    now = timezone.now()
    ip = client_ip(request)
    entries = [
        AccessLogEntry(
            at=now,
            user_id=user.pk,
            username=user.get_username(),
            datamart_id=datamart_id,
            event=event,
            user_point_id=user_point_id,
            query=query[:QUERY_MAX],
            ip=ip,
            path=request.get_full_path()[:PATH_MAX],
        )
        for datamart_id in datamart_ids
    ]
    return AccessLogEntry.objects.bulk_create(entries)
