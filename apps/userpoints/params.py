"""Parsing the query and body values of the UserPoint API. Pure: no Django import."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from apps.core.validation import EPOCH_MS_MAX, InputInvalid, epoch_ms_value, id_value


class ParamInvalid(ValueError):
    pass


def ts_ms_parse(value: Any, name: str) -> int:
    """Epoch milliseconds from an integer, a string of digits, or an ISO 8601 string (naive means UTC)."""
    if isinstance(value, bool):
        raise ParamInvalid(f"{name} must be epoch milliseconds or an ISO 8601 date")
    if isinstance(value, int) or (isinstance(value, str) and value.strip().lstrip("-").isdigit()):
        try:
            return epoch_ms_value(value, name)
        except InputInvalid as exc:
            raise ParamInvalid(str(exc)) from None
    if isinstance(value, str):
        text = value.strip()
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise ParamInvalid(f"{name} must be epoch milliseconds or an ISO 8601 date, not {value[:64]!r}") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        ms = int(parsed.timestamp() * 1000)
        if not 0 <= ms <= EPOCH_MS_MAX:
            raise ParamInvalid(f"{name} must lie between 1970 and 9999")
        return ms
    raise ParamInvalid(f"{name} must be epoch milliseconds or an ISO 8601 date")


def id_param(value: Any, name: str) -> int:
    """A datamart-scoped id (compartment, processing): an integer or a numeric string, as spec 0 says."""
    try:
        return id_value(value, name)
    except InputInvalid:
        raise ParamInvalid(f"{name} must be a numeric id, not {str(value)[:64]!r}") from None
