"""Fail-closed authentication of API keys for the mediarithmics routes (spec 0)."""

from __future__ import annotations

from django.http import HttpRequest

from apps.core.errors import ApiError
from apps.datamarts.keys import key_from_headers
from apps.datamarts.models import ApiKey
from apps.datamarts.selectors import api_key_get_active


def api_key_for_request(request: HttpRequest, *, raw_key: str | None = None) -> ApiKey:
    """The request's active key, or a 401."""
    raw = raw_key if raw_key is not None else key_from_headers(request.headers)
    if not raw:
        raise ApiError(401, "Missing API key", "UNAUTHORIZED")
    api_key = api_key_get_active(raw_key=raw)
    if api_key is None:
        raise ApiError(401, "Invalid or revoked API key", "UNAUTHORIZED")
    return api_key


def authorize(api_key: ApiKey, *, datamart_id: int | str, scope: str) -> None:
    """403 unless the key belongs to this datamart and carries the scope."""
    try:
        wanted = int(datamart_id)
    except (TypeError, ValueError):
        raise ApiError(404, "Resource Not Found") from None
    if api_key.datamart_id != wanted:
        raise ApiError(403, "This API key does not give access to this datamart", "FORBIDDEN")
    if not api_key.has_scope(scope):
        raise ApiError(403, f"This API key lacks the '{scope}' scope", "FORBIDDEN")


def authenticate(request: HttpRequest, *, datamart_id: int | str, scope: str) -> ApiKey:
    api_key = api_key_for_request(request)
    authorize(api_key, datamart_id=datamart_id, scope=scope)
    return api_key
