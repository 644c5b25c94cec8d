"""The limits every input obeys, on every route (spec 7), in one place. Pure: no Django import.

Integers that are stored or compared are ASCII digits and fit a signed 64-bit integer (Python's `isdigit` accepts
`²` and `int` accepts `٢`: neither is a digit here); epoch milliseconds lie in years 1970..9999; JSON nests at most
64 levels; strings hold no NUL and no lone surrogate (PostgreSQL stores neither). Each check names the field."""

from __future__ import annotations

import re
from typing import Any

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)
EPOCH_MS_MAX = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z
MAX_DEPTH = 64
_INTEGER = re.compile(r"-?[0-9]+", re.ASCII)


class InputInvalid(ValueError):
    """An input outside the limits; the text names the field."""


def int64_text(text: str, field: str, *, minimum: int = INT64_MIN, maximum: int = INT64_MAX) -> int:
    """A decimal integer written in ASCII digits, within [minimum, maximum]."""
    stripped = text.strip()
    if not _INTEGER.fullmatch(stripped) or len(stripped) > 20:
        raise InputInvalid(f"{field} must be an integer written in ASCII digits")
    value = int(stripped)
    if not minimum <= value <= maximum:
        raise InputInvalid(f"{field} must be between {minimum} and {maximum}")
    return value


def int64_value(value: Any, field: str, *, minimum: int = INT64_MIN, maximum: int = INT64_MAX) -> int:
    """A JSON integer, or a string of ASCII digits, within [minimum, maximum]."""
    if isinstance(value, bool):
        raise InputInvalid(f"{field} must be an integer")
    if isinstance(value, int):
        if not minimum <= value <= maximum:
            raise InputInvalid(f"{field} must be between {minimum} and {maximum}")
        return value
    if isinstance(value, str):
        return int64_text(value, field, minimum=minimum, maximum=maximum)
    raise InputInvalid(f"{field} must be an integer")


def id_value(value: Any, field: str) -> int:
    """A datamart, compartment or processing id: a non-negative 64-bit integer, given as a number or a string."""
    return int64_value(value, field, minimum=0)


def is_id_text(text: str) -> bool:
    return bool(re.fullmatch(r"[0-9]{1,19}", text, re.ASCII)) and int(text) <= INT64_MAX


def epoch_ms_value(value: Any, field: str) -> int:
    """Epoch milliseconds between 1970 and 9999."""
    return int64_value(value, field, minimum=0, maximum=EPOCH_MS_MAX)


def text_problem(text: str) -> str | None:
    """What PostgreSQL cannot store in a string: a NUL character or an unpaired UTF-16 surrogate."""
    if "\x00" in text:
        return "holds a NUL character (\\u0000)"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "holds an unpaired UTF-16 surrogate"
    return None


def text_check(text: str, field: str) -> str:
    problem = text_problem(text)
    if problem:
        raise InputInvalid(f"{field} {problem}")
    return text


def json_problem(value: Any, *, max_depth: int = MAX_DEPTH) -> str | None:
    """Why a parsed JSON document cannot be accepted: nested deeper than `max_depth`, or a string (key or value)
    the database cannot store. Walked without recursion."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict | list):
            if depth > max_depth:
                return f"the document nests deeper than {max_depth} levels"
            children = item.values() if isinstance(item, dict) else item
            if isinstance(item, dict):
                for key in item:
                    problem = text_problem(str(key))
                    if problem:
                        return f"a string {problem}"
            pending.extend((child, depth + 1) for child in children)
        elif isinstance(item, str):
            problem = text_problem(item)
            if problem:
                return f"a string {problem}"
    return None
