"""OpenAPI of the mediarithmics activity route, a plain Django view that drf-spectacular cannot see (spec 1.3)."""

from __future__ import annotations

from typing import Any

from apps.activities.mics import ACTIVITY_TYPES, SESSION_STATUSES
from apps.core.openapi import openapi_register, openapi_register_schema

ERROR = {"$ref": "#/components/schemas/MicsError"}


def _error(description: str) -> dict[str, object]:
    return {"description": description, "content": {"application/json": {"schema": ERROR}}}


# The limits of spec 7 the route enforces, stated where clients read them.
_EPOCH_MS: dict[str, Any] = {"type": "integer", "minimum": 0, "maximum": 253402300799999, "description": "Epoch ms."}
_ID: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "\\S"}
_COMPARTMENT_ID: dict[str, Any] = {"type": "string", "pattern": "^[0-9]{1,18}$"}

openapi_register_schema(
    "UserActivity",
    {
        "type": "object",
        "description": (
            "One UserActivity. At least one identifier: `$user_identifiers`, or the legacy root fields "
            "`$user_agent_id`, `$compartment_id` + `$user_account_id`, `$email_hash`. Other fields (`$site_id`, "
            "`$app_id`, `$location`, `$origin`, custom fields) are kept as given."
        ),
        "required": ["$type", "$ts"],
        # At least one identifier, in one of the forms spec 1.2 allows.
        "anyOf": [
            {"required": ["$user_identifiers"], "properties": {"$user_identifiers": {"minItems": 1}}},
            {"required": ["$user_agent_id"]},
            {"required": ["$user_account_id"]},
            {"required": ["$email_hash"]},
        ],
        "properties": {
            "$type": {"type": "string", "enum": list(ACTIVITY_TYPES)},
            "$ts": _EPOCH_MS,
            "$session_status": {"type": "string", "enum": list(SESSION_STATUSES), "default": "NO_SESSION"},
            "$unique_key": {
                "type": "string",
                "minLength": 1,
                "maxLength": 255,
                "description": "Makes the call idempotent.",
            },
            "$user_identifiers": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["$type"],
                    "properties": {
                        "$type": {"type": "string", "enum": ["USER_ACCOUNT", "USER_EMAIL", "USER_AGENT"]},
                        "$compartment_id": _COMPARTMENT_ID,
                        "$user_account_id": _ID,
                        "$hash": _ID,
                        "$email": {"type": "string", "minLength": 3, "pattern": ".@."},
                        "$user_agent_id": _ID,
                    },
                },
            },
            "$user_agent_id": _ID,
            "$compartment_id": _COMPARTMENT_ID,
            "$user_account_id": _ID,
            "$email_hash": {
                "oneOf": [
                    _ID,
                    {"type": "object", "anyOf": [{"required": ["$hash"]}, {"required": ["$email"]}]},
                ]
            },
            "$events": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["$ts", "$event_name"],
                    "properties": {
                        "$ts": _EPOCH_MS,
                        "$event_name": {
                            "type": "string",
                            "minLength": 1,
                            "description": "`$set_user_profile_properties` and `$set_user_choice` are applied.",
                        },
                        "$properties": {"type": "object"},
                    },
                },
            },
        },
        "additionalProperties": True,
    },
)

openapi_register(
    "/v1/datamarts/{datamart_id}/user_activities",
    "post",
    {
        "operationId": "mics_user_activities_post",
        "summary": "Import a UserActivity (mediarithmics)",
        "description": (
            "Validated at once, committed to the inbox, processed asynchronously. Scope `ingest`. Body: JSON, "
            "optionally gzip-compressed, at most 512 KiB decompressed."
        ),
        "tags": ["mediarithmics tracking"],
        "parameters": [{"name": "datamart_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/UserActivity"}}},
        },
        "responses": {
            "200": {
                "description": "Accepted (durable).",
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "properties": {
                                "status": {"type": "string", "enum": ["ok"]},
                                "data": {"type": "object", "properties": {"activity_id": {"type": "string"}}},
                            },
                        }
                    }
                },
            },
            "400": _error("VALIDATION_ERROR (with `details`) or MALFORMED_JSON"),
            "401": _error("UNAUTHORIZED"),
            "403": _error("FORBIDDEN"),
            "413": _error("PAYLOAD_TOO_LARGE"),
            "415": _error("UNSUPPORTED_MEDIA_TYPE"),
        },
    },
)
