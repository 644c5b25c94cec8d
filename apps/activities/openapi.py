"""OpenAPI of the mediarithmics activity route, a plain Django view that drf-spectacular cannot see (spec 1.3)."""

from __future__ import annotations

from apps.activities.mics import ACTIVITY_TYPES, SESSION_STATUSES
from apps.core.openapi import openapi_register, openapi_register_schema

ERROR = {"$ref": "#/components/schemas/MicsError"}


def _error(description: str) -> dict[str, object]:
    return {"description": description, "content": {"application/json": {"schema": ERROR}}}


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
        "properties": {
            "$type": {"type": "string", "enum": list(ACTIVITY_TYPES)},
            "$ts": {"type": "integer", "description": "Epoch milliseconds."},
            "$session_status": {"type": "string", "enum": list(SESSION_STATUSES), "default": "NO_SESSION"},
            "$unique_key": {"type": "string", "maxLength": 255, "description": "Makes the call idempotent."},
            "$user_identifiers": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["$type"],
                    "properties": {
                        "$type": {"type": "string", "enum": ["USER_ACCOUNT", "USER_EMAIL", "USER_AGENT"]},
                        "$compartment_id": {"type": "string"},
                        "$user_account_id": {"type": "string"},
                        "$hash": {"type": "string"},
                        "$email": {"type": "string"},
                        "$user_agent_id": {"type": "string"},
                    },
                },
            },
            "$user_agent_id": {"type": "string"},
            "$compartment_id": {"type": "string"},
            "$user_account_id": {"type": "string"},
            "$email_hash": {"oneOf": [{"type": "string"}, {"type": "object"}]},
            "$events": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["$ts", "$event_name"],
                    "properties": {
                        "$ts": {"type": "integer"},
                        "$event_name": {
                            "type": "string",
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
