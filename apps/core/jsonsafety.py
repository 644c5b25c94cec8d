"""JSON values the database cannot store. Pure: no Django import, so the dialect translators can use it."""

from __future__ import annotations

from typing import Any


def unstorable(value: Any) -> str | None:
    """What PostgreSQL's jsonb refuses though JSON allows it: a NUL character or an unpaired UTF-16 surrogate.
    Walked without recursion, so any depth json.loads accepted is safe here."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, str):
            if "\x00" in item:
                return "a string holds a NUL character (\\u0000)"
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return "a string holds an unpaired UTF-16 surrogate"
    return None
