from django.urls import URLPattern, path

from apps.core.openapi import openapi_register, openapi_register_schema
from apps.dialects.braze.views import users_track

urlpatterns: list[URLPattern] = [path("users/track", users_track)]

_RATE_HEADERS = {
    "X-RateLimit-Limit": {"schema": {"type": "integer"}, "description": "Requests allowed per minute for this key"},
    "X-RateLimit-Remaining": {"schema": {"type": "integer"}, "description": "Requests left in the current minute"},
    "X-RateLimit-Reset": {"schema": {"type": "integer"}, "description": "Epoch seconds when the minute ends"},
}


def _answer(description: str, schema: str) -> dict[str, object]:
    return {
        "description": description,
        "headers": _RATE_HEADERS,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


_USER = {
    "external_id": {"type": "string", "description": "USER_ACCOUNT in the key's compartment"},
    "braze_id": {"type": "string", "description": "USER_AGENT braze:<id>"},
    "user_alias": {
        "type": "object",
        "properties": {"alias_name": {"type": "string"}, "alias_label": {"type": "string"}},
        "description": "USER_AGENT alias:<label>:<name>",
    },
    "email": {"type": "string", "description": "USER_EMAIL"},
    "phone": {"type": "string", "description": "USER_AGENT phone:<digits>"},
    "_update_existing_only": {"type": "boolean"},
}
openapi_register_schema(
    "BrazeTrackRequest",
    {
        "type": "object",
        # At least one object to apply (spec 3: otherwise a fatal 400).
        "anyOf": [
            {"required": ["attributes"], "properties": {"attributes": {"minItems": 1}}},
            {"required": ["events"], "properties": {"events": {"minItems": 1}}},
            {"required": ["purchases"], "properties": {"purchases": {"minItems": 1}}},
        ],
        "properties": {
            "api_key": {"type": "string", "description": "The key, when not in the Authorization header"},
            "attributes": {
                "type": "array",
                "maxItems": 75,
                "items": {
                    "type": "object",
                    "properties": {**_USER, "_merge_objects": {"type": "boolean"}},
                    "additionalProperties": True,
                    "description": 'Attributes: a value, null (remove), {"inc": n}, {"add": [...]}, {"remove": [...]}',
                },
            },
            "events": {
                "type": "array",
                "maxItems": 75,
                "items": {
                    "type": "object",
                    "required": ["name", "time"],
                    "properties": {
                        **_USER,
                        "app_id": {"type": "string"},
                        "name": {"type": "string"},
                        "time": {"type": "string", "format": "date-time"},
                        "properties": {"type": "object"},
                    },
                },
            },
            "purchases": {
                "type": "array",
                "maxItems": 75,
                "items": {
                    "type": "object",
                    "required": ["product_id", "currency", "price", "time"],
                    "properties": {
                        **_USER,
                        "app_id": {"type": "string"},
                        "product_id": {"type": "string"},
                        "currency": {"type": "string", "pattern": "^[A-Za-z]{3}$"},
                        "price": {"type": "number"},
                        "quantity": {"type": "integer", "minimum": 1, "maximum": 100, "default": 1},
                        "time": {"type": "string", "format": "date-time"},
                        "properties": {"type": "object"},
                    },
                },
            },
        },
    },
)
openapi_register_schema(
    "BrazeTrackAnswer",
    {
        "type": "object",
        "properties": {
            "message": {"type": "string"},
            "attributes_processed": {"type": "integer"},
            "events_processed": {"type": "integer"},
            "purchases_processed": {"type": "integer"},
            "errors": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "type": {"type": "string"},
                        "input_array": {"type": "string"},
                        "index": {"type": "integer"},
                    },
                },
            },
        },
        "required": ["message"],
    },
)
openapi_register(
    "/users/track",
    "post",
    {
        "operationId": "braze_users_track",
        "tags": ["Braze"],
        "summary": "Braze /users/track: attributes, events and purchases",
        "description": (
            "Authorization: Bearer <key> (or api_key in the body). Each array holds at most 75 objects. Invalid "
            "objects are skipped and listed in `errors`; the others are accepted and processed asynchronously."
        ),
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/BrazeTrackRequest"}}},
        },
        "responses": {
            "201": _answer("Accepted; counts per array sent, and the non-fatal errors", "BrazeTrackAnswer"),
            "400": _answer("Fatal error: not JSON, an array of the wrong type, over 75 objects", "BrazeTrackAnswer"),
            "401": _answer("Invalid API key", "BrazeTrackAnswer"),
            "403": _answer("The key lacks the ingest scope, or the page's origin is not allowed", "BrazeTrackAnswer"),
            "413": _answer("The body is too large (after decompression)", "BrazeTrackAnswer"),
            "415": _answer("The body is not declared as JSON", "BrazeTrackAnswer"),
            "429": _answer("Over the key's rate limit", "BrazeTrackAnswer"),
        },
    },
)
