"""Braze user attribute operations (spec 3), applied to a stored profile. Pure: no Django import.

They need the stored profile (an increment adds to what is there), so the route only validates them; the
pipeline applies them through the profile strategy BRAZE_ATTRIBUTES, which `profile_properties_apply`
dispatches here. The pipeline itself knows nothing of Braze.
"""

from __future__ import annotations

import copy
import json
import math
from typing import Any

BRAZE_ATTRIBUTES = "BRAZE_ATTRIBUTES"


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _operation(value: Any) -> str | None:
    """ "inc" for `{"inc": n}`, "set" for `{"add": [...]}` / `{"remove": [...]}` (or both), None for a value."""
    if isinstance(value, dict) and value:
        keys = set(value)
        if keys == {"inc"}:
            return "inc"
        if keys <= {"add", "remove"}:
            return "set"
    return None


def attribute_problem(name: str, value: Any) -> str | None:
    """What is wrong with one attribute's operation, checked when the request is accepted; None when valid."""
    operation = _operation(value)
    if operation == "inc" and not is_number(value["inc"]):
        return f"'{name}': 'inc' must be a number"
    if operation == "set":
        for verb in ("add", "remove"):
            if verb in value and not isinstance(value[verb], list):
                return f"'{name}': '{verb}' must be an array"
    return None


def _identity(value: Any) -> str:
    """Set membership by JSON value: `True` and `1` are different members, unlike with Python's `==`."""
    return json.dumps(value, sort_keys=True)


def _set_apply(current: Any, operation: dict[str, Any]) -> list[Any]:
    members = list(current) if isinstance(current, list) else []
    seen: set[str] = set()
    result: list[Any] = []
    for item in members + list(operation.get("add", [])):
        key = _identity(item)
        if key not in seen:
            seen.add(key)
            result.append(copy.deepcopy(item))
    removed = {_identity(item) for item in operation.get("remove", [])}
    return [item for item in result if _identity(item) not in removed]


def _merge(stored: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """`_merge_objects`: objects merged key by key at every depth, `null` removing a key."""
    result = dict(stored)
    for key, value in update.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            inner = result.get(key)
            result[key] = _merge(inner if isinstance(inner, dict) else {}, value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def braze_attributes_apply(
    stored: dict[str, Any] | None, update: dict[str, Any], merge_objects: bool = False
) -> dict[str, Any]:
    """The profile properties after one Braze attributes object.

    - `{"inc": n}` adds n; a missing attribute, or one that is not a number, counts as 0;
    - `{"add": [...]}` / `{"remove": [...]}` treat the attribute as a set (no duplicates; add first, then
      remove); remove alone on a missing attribute leaves it missing;
    - `null` removes the attribute;
    - a nested object replaces the stored one, unless `merge_objects` (the object's `_merge_objects`), where it is
      merged in depth;
    - any other value replaces the attribute.
    """
    result = dict(stored or {})
    for key, value in update.items():
        operation = _operation(value)
        if value is None:
            result.pop(key, None)
        elif operation == "inc":
            current = result.get(key)
            result[key] = (current if is_number(current) else 0) + value["inc"]
        elif operation == "set":
            if key not in result and not value.get("add"):
                continue
            result[key] = _set_apply(result.get(key), value)
        elif isinstance(value, dict) and merge_objects:
            current = result.get(key)
            result[key] = _merge(current if isinstance(current, dict) else {}, value)
        else:
            result[key] = copy.deepcopy(value)
    return result
