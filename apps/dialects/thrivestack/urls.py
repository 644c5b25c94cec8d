from typing import Any

from django.urls import URLPattern, path

from apps.core.openapi import openapi_register, openapi_register_schema
from apps.dialects.thrivestack.views import group, identify, track

urlpatterns: list[URLPattern] = [
    path("api/track", track),
    path("api/identify", identify),
    path("api/group", group),
]

_CONTEXT = {
    "type": "object",
    "properties": {
        "group_id": {"type": "string"},
        "device_id": {"type": "string", "minLength": 1, "pattern": "\\S", "description": "USER_AGENT device:<id>"},
        "session_id": {"type": "string"},
        "source": {"type": "string"},
    },
}
_COMMON = {
    "user_id": {
        "type": "string",
        "minLength": 1,
        "maxLength": 255,
        "pattern": "\\S",
        "description": "USER_ACCOUNT in the key's compartment",
    },
    "timestamp": {"type": "string", "format": "date-time", "description": "ISO 8601; default: now"},
    "context": _CONTEXT,
}
_OBJECTS: dict[str, dict[str, Any]] = {
    "track": {
        "type": "object",
        "required": ["user_id"],
        "anyOf": [{"required": ["event_name"]}, {"required": ["event"]}],
        "properties": {
            **_COMMON,
            "event_name": {"type": "string", "minLength": 1, "pattern": "\\S", "description": "Required (or `event`)"},
            "event": {"type": "string", "minLength": 1, "pattern": "\\S"},
            "properties": {
                "type": "object",
                "description": "email (also a USER_EMAIL), name, first_name, last_name also update the profile",
            },
        },
    },
    "identify": {
        "type": "object",
        "required": ["user_id"],
        "properties": {**_COMMON, "traits": {"type": "object", "description": "Profile PARTIAL_UPDATE"}},
    },
    "group": {
        "type": "object",
        "required": ["user_id", "group_id"],
        "properties": {
            **_COMMON,
            "group_id": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "\\S"},
            "traits": {"type": "object", "description": "Profile property groups.<group_id>"},
        },
    },
}
openapi_register_schema(
    "ThrivestackAnswer",
    {
        "type": "object",
        "properties": {
            "success": {"type": "boolean"},
            "message": {"type": "string"},
            "response_id": {"type": "string", "format": "uuid"},
        },
        "required": ["success", "message", "response_id"],
    },
)


def _answer(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ThrivestackAnswer"}}},
    }


for _kind, _schema in _OBJECTS.items():
    _name = f"Thrivestack{_kind.capitalize()}"
    openapi_register_schema(_name, _schema)
    _ref = {"$ref": f"#/components/schemas/{_name}"}
    openapi_register(
        f"/api/{_kind}",
        "post",
        {
            "operationId": f"thrivestack_{_kind}",
            "tags": ["Thrivestack"],
            "summary": f"Thrivestack {_kind}: one object or an array",
            "description": "Authorization: Bearer <key> or x-api-key: <key>. Accepted whole or refused whole.",
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {"oneOf": [_ref, {"type": "array", "items": _ref, "minItems": 1, "maxItems": 1000}]}
                    }
                },
            },
            "responses": {
                "200": _answer("Accepted, processed asynchronously"),
                "400": _answer("Invalid: the message names the object and field"),
                "401": _answer("No or unknown key"),
                "403": _answer("The key lacks the ingest scope, or the page's origin is not allowed"),
                "413": _answer("The body is too large (after decompression)"),
                "415": _answer("The body is not declared as JSON"),
                "429": _answer("Over the key's rate limit"),
            },
        },
    )
