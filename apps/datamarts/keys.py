"""Where a request carries its API key (spec 0). Pure: no Django import, tested without a database."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any


def key_from_headers(headers: Mapping[str, str]) -> str | None:
    """The key from `Authorization` (raw, Bearer or Basic with the key as user name) or `x-api-key`."""
    authorization = (headers.get("Authorization") or headers.get("authorization") or "").strip()
    if authorization:
        scheme, _, rest = authorization.partition(" ")
        lowered = scheme.lower()
        if lowered == "bearer" and rest.strip():
            return rest.strip()
        if lowered == "basic" and rest.strip():
            try:
                decoded = base64.b64decode(rest.strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                return None
            user, _, _password = decoded.partition(":")
            return user or None
        if not rest:
            return authorization
    api_key = (headers.get("x-api-key") or headers.get("X-Api-Key") or "").strip()
    return api_key or None


def key_from_body(body: Any) -> str | None:
    """A Segment-style `writeKey` field (spec 2)."""
    if isinstance(body, dict):
        value = body.get("writeKey")
        if isinstance(value, str) and value:
            return value
    return None
