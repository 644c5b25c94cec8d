"""The `filters` syntax of the timeline (spec 1.4). Pure: no Django import.

`$type==SITE_VISIT,$channel_id==12|$channel_id==13`: `,` separates clauses that must all hold (and), `|`
separates alternatives within a clause (or), so `|` binds tighter: the example reads
`$type == SITE_VISIT and ($channel_id == 12 or $channel_id == 13)`. A condition is `field==value` or
`field!=value`; the field is a top-level key of the activity (`$type`, `$ts`, `$channel_id`, `$site_id`, a custom
field). Values are compared as text, so `$channel_id==12` matches both `12` and `"12"`; `null` matches a missing
or null field. A backslash escapes `,` `|` `\\` inside a value.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from apps.core.validation import InputInvalid, int64_text, text_problem

FIELD = re.compile(r"^\$?[A-Za-z_][A-Za-z0-9_]*$")
MAX_CONDITIONS = 50


class FilterInvalid(ValueError):
    pass


@dataclass(frozen=True)
class Condition:
    field: str
    value: str
    negated: bool = False


# A clause is a tuple of alternatives (or); a filter is a tuple of clauses (and). Empty filter: everything.
Clause = tuple[Condition, ...]
Filter = tuple[Clause, ...]


def _split(text: str, separator: str) -> list[str]:
    """Splits on an unescaped separator, keeping the escapes for the next level."""
    parts, current, escaped = [], [], False
    for char in text:
        if escaped:
            current.append("\\" + char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == separator:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    if escaped:
        raise FilterInvalid("a filter cannot end with a backslash")
    parts.append("".join(current))
    return parts


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def _condition(text: str) -> Condition:
    negated = "!=" in text and ("==" not in text or text.index("!=") < text.index("=="))
    field, sep, value = text.partition("!=" if negated else "==")
    if not sep:
        raise FilterInvalid(f"{text!r} is not a condition: write field==value or field!=value")
    field = field.strip()
    if not FIELD.match(field):
        raise FilterInvalid(f"{field[:64]!r} is not a field name")
    value = _unescape(value.strip())
    if problem := text_problem(value):
        raise FilterInvalid(f"the value of {field} {problem}")
    if field == "$ts" and value != "null":
        try:
            int64_text(value, "$ts")  # compared as a number: ASCII digits within 64 bits (spec 7)
        except InputInvalid as exc:
            raise FilterInvalid(str(exc)) from None
    return Condition(field, value, negated)


def filters_parse(text: str | None) -> Filter:
    """The parsed filter; raises FilterInvalid naming the part at fault."""
    if text is None or not text.strip():
        return ()
    clauses: list[Clause] = []
    count = 0
    for clause_text in _split(text, ","):
        alternatives = []
        for condition_text in _split(clause_text, "|"):
            if not condition_text.strip():
                raise FilterInvalid("empty condition (two separators in a row, or one at an end)")
            alternatives.append(_condition(condition_text))
            count += 1
        clauses.append(tuple(alternatives))
    if count > MAX_CONDITIONS:
        raise FilterInvalid(f"at most {MAX_CONDITIONS} conditions")
    return tuple(clauses)


def value_text(value: Any) -> str | None:
    """A JSON value as the filter compares it: strings as they are, other values as JSON text, null as None."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))


def condition_matches(condition: Condition, activity: dict[str, Any]) -> bool:
    actual = value_text(activity.get(condition.field))
    wanted = None if condition.value == "null" else condition.value
    return (actual != wanted) if condition.negated else (actual == wanted)


def filter_matches(parsed: Filter, activity: dict[str, Any]) -> bool:
    """Whether a rendered activity passes the filter (the reference the database query must agree with)."""
    return all(any(condition_matches(c, activity) for c in clause) for clause in parsed)
