"""Profile update strategies (spec 1.5). Pure functions on JSON objects: no Django import."""

from __future__ import annotations

import copy
from typing import Any

from apps.dialects.braze.attributes import BRAZE_ATTRIBUTES, braze_attributes_apply

PARTIAL_UPDATE = "PARTIAL_UPDATE"
PARTIAL_DELETE = "PARTIAL_DELETE"
FORCE_REPLACE = "FORCE_REPLACE"
STRATEGIES = (PARTIAL_UPDATE, PARTIAL_DELETE, FORCE_REPLACE)


class StrategyError(ValueError):
    pass


def strategy_from_params(
    update_strategy: str | None, force_replace: str | None, merge_objects: str | None
) -> tuple[str, bool]:
    """The strategy and the merge-objects flag from the query parameters; `update_strategy` wins over legacy flags."""

    def flag(name: str, value: str | None) -> bool:
        if value is None:
            return False
        lowered = value.strip().lower()
        if lowered in ("true", "1"):
            return True
        if lowered in ("false", "0", ""):
            return False
        raise StrategyError(f"{name} must be true or false")

    merge = flag("merge_objects", merge_objects)
    if update_strategy is not None:
        if update_strategy not in STRATEGIES:
            raise StrategyError(f"update_strategy must be one of {', '.join(STRATEGIES)}")
        return update_strategy, merge and update_strategy == PARTIAL_UPDATE
    if flag("force_replace", force_replace):
        return FORCE_REPLACE, False
    return PARTIAL_UPDATE, merge


def deep_merge(stored: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """Objects merged key by key at every depth; arrays and scalars replaced."""
    result = dict(stored)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = deep_merge(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def partial_delete(stored: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """Each named key removed; a key whose value is an object removes the named keys inside it."""
    result = dict(stored)
    for key, value in update.items():
        if isinstance(value, dict) and value and isinstance(result.get(key), dict):
            result[key] = partial_delete(result[key], value)
        else:
            result.pop(key, None)
    return result


def profile_properties_apply(
    stored: dict[str, Any] | None, update: dict[str, Any], strategy: str = PARTIAL_UPDATE, merge_objects: bool = False
) -> dict[str, Any]:
    """The properties after applying `update` to `stored` (None: no profile yet) with a strategy."""
    base = stored or {}
    if strategy == FORCE_REPLACE:
        return copy.deepcopy(update)
    if strategy == PARTIAL_DELETE:
        return partial_delete(base, update)
    if strategy == PARTIAL_UPDATE:
        if merge_objects:
            return deep_merge(base, update)
        merged = dict(base)
        merged.update(copy.deepcopy(update))
        return merged
    if strategy == BRAZE_ATTRIBUTES:
        # Internal to the pipeline (not in STRATEGIES, so the profile API does not offer it): Braze attribute
        # operations need the stored profile, so the Braze route leaves them to be applied here.
        return braze_attributes_apply(stored, update, merge_objects)
    raise StrategyError(f"unknown update strategy {strategy!r}")


def strip_reserved(properties: dict[str, Any]) -> dict[str, Any]:
    """The `$`-prefixed keys name the profile; they are not stored as properties."""
    return {k: v for k, v in properties.items() if not k.startswith("$")}
