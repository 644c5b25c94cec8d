"""Parsing the query and body values of the UserPoint API. Pure: no Django import."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


class ParamInvalid(ValueError):
    pass


def ts_ms_parse(value: Any, name: str) -> int:
    """Epoch milliseconds from an integer, a string of digits, or an ISO 8601 string (naive means UTC)."""
    if isinstance(value, bool):
        raise ParamInvalid(f"{name} must be epoch milliseconds or an ISO 8601 date")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.strip()
        if text.lstrip("-").isdigit():
            return int(text)
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise ParamInvalid(f"{name} must be epoch milliseconds or an ISO 8601 date, not {value!r}") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return int(parsed.timestamp() * 1000)
    raise ParamInvalid(f"{name} must be epoch milliseconds or an ISO 8601 date")


def id_param(value: Any, name: str) -> int:
    """A datamart-scoped id (compartment, processing): an integer or a numeric string, as spec 0 says."""
    if isinstance(value, bool):
        raise ParamInvalid(f"{name} must be a numeric id")
    if isinstance(value, int) and value >= 0:
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    raise ParamInvalid(f"{name} must be a numeric id, not {value!r}")
