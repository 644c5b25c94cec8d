"""OpenAPI for routes that are plain Django views (the hot ingestion paths), which drf-spectacular cannot see.

A dialect registers its operations here (at import time of its urls module); a drf-spectacular postprocessing
hook (`openapi_postprocess`) merges them into the generated schema, so `/v1/schema` describes every route.
"""

from __future__ import annotations

from typing import Any

# path -> method (lower case) -> OpenAPI operation object
EXTRA_OPERATIONS: dict[str, dict[str, dict[str, Any]]] = {}
EXTRA_COMPONENTS: dict[str, dict[str, Any]] = {}


def openapi_register(path: str, method: str, operation: dict[str, Any]) -> None:
    """Documents one operation of a plain view, e.g. openapi_register("/v1/track", "post", {...})."""
    EXTRA_OPERATIONS.setdefault(path, {})[method.lower()] = operation


def openapi_register_schema(name: str, schema: dict[str, Any]) -> None:
    """Adds a reusable schema under components/schemas (refer to it as #/components/schemas/<name>)."""
    EXTRA_COMPONENTS[name] = schema


def openapi_postprocess(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    paths = result.setdefault("paths", {})
    for path, operations in EXTRA_OPERATIONS.items():
        paths.setdefault(path, {}).update(operations)
    if EXTRA_COMPONENTS:
        result.setdefault("components", {}).setdefault("schemas", {}).update(EXTRA_COMPONENTS)
    return result
