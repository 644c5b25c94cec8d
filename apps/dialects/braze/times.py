"""ISO 8601 times of the Braze and Thrivestack dialects, as epoch milliseconds. Pure: no Django import."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

# An offset written with a one-digit hour ("+1:00", as in Braze's own sample) or without minutes ("+01"), which
# datetime.fromisoformat refuses: rewritten as "+01:00". Only after a time of day, so a date's "-16" is untouched.
_SHORT_OFFSET = re.compile(
    r"^(?P<head>.+[T ]\d{2}(?::?\d{2}){0,2}(?:[.,]\d+)?)(?P<sign>[+-])(?P<hours>\d{1,2})(?::?(?P<minutes>\d{2}))?$"
)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class NotATime(ValueError):
    pass


def iso8601_to_ms(value: object) -> int:
    """Epoch milliseconds of an ISO 8601 date or date-time string; a time without offset is UTC.

    Raises NotATime for anything else (numbers included: these dialects send strings).
    """
    if not isinstance(value, str) or not value.strip():
        raise NotATime("must be an ISO 8601 date string")
    text = value.strip()
    if text[-1] in "zZ":
        text = text[:-1] + "+00:00"
    match = _SHORT_OFFSET.match(text)
    if match:
        minutes = match["minutes"] or "00"
        text = f"{match['head']}{match['sign']}{int(match['hours']):02d}:{minutes}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise NotATime(f"{value!r} is not an ISO 8601 date") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    # Integer arithmetic: float timestamps turn .111 s into 110.999… ms.
    return (parsed - _EPOCH) // timedelta(milliseconds=1)
