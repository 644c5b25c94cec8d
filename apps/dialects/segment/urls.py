"""Routes of the Segment-style HTTP Tracking API (spec 2), documented in the OpenAPI registry."""

from __future__ import annotations

from typing import Any

from django.urls import URLPattern, re_path

from apps.core.openapi import openapi_register, openapi_register_schema
from apps.dialects.segment import views
from apps.dialects.segment.translate import BATCH_MAX_BYTES, BATCH_MAX_MESSAGES, CALL_TYPES, MESSAGE_MAX_BYTES

CALLS = "identify|track|page|screen|group|alias|i|t|p|s|g|a"

urlpatterns: list[URLPattern] = [
    re_path(rf"^v1/(?P<call>{CALLS})$", views.single),
    re_path(r"^v1/(?:batch|b|import)$", views.batch),
    re_path(r"^v1/(?:webhook|w)$", views.webhook),
    re_path(r"^v1/pixel/(?P<call>identify|track|page|screen|group|alias)$", views.pixel),
    re_path(r"^beacon/v1/batch$", views.beacon_batch),
    re_path(r"^v1/m$", views.client_metrics),
]

TAG = ["Segment-style tracking (MetaRouter)"]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


openapi_register_schema(
    "SegmentMessage",
    {
        "type": "object",
        "description": (
            "One Segment-style message. userId or anonymousId is required; track needs event, group needs "
            f"groupId, alias needs previousId and userId. At most {MESSAGE_MAX_BYTES} bytes."
        ),
        # userId or anonymousId (a non-empty id); null counts as absent (spec 2).
        "anyOf": [
            {"required": ["userId"], "properties": {"userId": {"type": "string", "minLength": 1}}},
            {"required": ["anonymousId"], "properties": {"anonymousId": {"type": "string", "minLength": 1}}},
        ],
        "properties": {
            "type": {"type": "string", "enum": list(CALL_TYPES), "description": "batch and webhook only"},
            "userId": {"type": "string", "nullable": True, "maxLength": 255},
            "anonymousId": {"type": "string", "nullable": True, "maxLength": 250},
            "messageId": {
                "type": "string",
                "minLength": 1,
                "maxLength": 247,
                "description": "unique per datamart; generated when absent",
            },
            "timestamp": {"type": "string", "format": "date-time"},
            "originalTimestamp": {"type": "string", "format": "date-time"},
            "sentAt": {"type": "string", "format": "date-time"},
            "event": {"type": "string"},
            "properties": {"type": "object"},
            "traits": {"type": "object"},
            "groupId": {"type": "string"},
            "previousId": {"type": "string"},
            "name": {"type": "string"},
            "context": {"type": "object"},
            "integrations": {"type": "object"},
            "writeKey": {"type": "string"},
        },
        "additionalProperties": True,
    },
)
# What each call needs besides an id (spec 2); batch and webhook messages name their call in `type`.
_CALL_NEEDS: dict[str, dict[str, Any]] = {
    "identify": {},
    "page": {},
    "screen": {},
    "track": {"required": ["event"], "properties": {"event": {"type": "string", "minLength": 1, "pattern": "\\S"}}},
    "group": {"required": ["groupId"], "properties": {"groupId": {"type": "string", "minLength": 1}}},
    "alias": {
        "required": ["previousId", "userId"],
        "properties": {
            "previousId": {"type": "string", "minLength": 1, "maxLength": 250},
            "userId": {"type": "string", "minLength": 1},
        },
    },
}
for _call, _needs in _CALL_NEEDS.items():
    openapi_register_schema(f"Segment{_call.capitalize()}", {"allOf": [_ref("SegmentMessage"), _needs]})


def _typed(call: str) -> dict[str, Any]:
    named = {"required": ["type"], "properties": {"type": {"type": "string", "enum": [call]}}}
    return {"allOf": [_ref(f"Segment{call.capitalize()}"), named]}


openapi_register_schema("SegmentTypedMessage", {"oneOf": [_typed(c) for c in _CALL_NEEDS]})
openapi_register_schema(
    "SegmentBatch",
    {
        "type": "object",
        "required": ["batch"],
        "properties": {
            "batch": {
                "type": "array",
                "items": _ref("SegmentTypedMessage"),
                "minItems": 1,
                "maxItems": BATCH_MAX_MESSAGES,
            },
            "context": {"type": "object", "description": "merged into each message (its own keys win)"},
            "integrations": {"type": "object", "description": "merged into each message (its own keys win)"},
            "sentAt": {"type": "string", "format": "date-time"},
            "writeKey": {"type": "string"},
        },
    },
)
openapi_register_schema("SegmentSuccess", {"type": "object", "properties": {"success": {"type": "boolean"}}})
openapi_register_schema(
    "SegmentError",
    {
        "type": "object",
        "properties": {
            "Error": {"type": "string"},
            "Message": {"type": "string"},
            "Details": {"type": "string"},
            "code": {"type": "string"},
            "message": {"type": "string"},
        },
    },
)
openapi_register_schema(
    "SegmentBatchErrors",
    {
        "type": "object",
        "properties": {
            "Success": {"type": "boolean"},
            "Errors": {"type": "array", "items": _ref("SegmentError")},
            "code": {"type": "string"},
            "message": {"type": "string"},
        },
    },
)

_AUTH_NOTE = (
    "Write key: HTTP Basic (key as user name, empty password), Bearer, Authorization, x-api-key, or `writeKey` "
    "in the body; the key needs the `ingest` scope."
)


def _answers(error: str) -> dict[str, Any]:
    return {
        "200": {"description": "accepted and committed", "content": _json(_ref("SegmentSuccess"))},
        "400": {"description": "invalid message, body, or write key", "content": _json(_ref(error))},
        "403": {
            "description": "the key lacks the ingest scope, or the page's origin is not allowed",
            "content": _json(_ref(error)),
        },
        "413": {"description": "over a size limit (after decompression)", "content": _json(_ref(error))},
    }


for _call in CALL_TYPES:
    for _path in (f"/v1/{_call}", f"/v1/{_call[0]}"):
        openapi_register(
            _path,
            "post",
            {
                "operationId": f"segment_{_call}" + ("_short" if len(_path) == 5 else ""),
                "tags": TAG,
                "summary": f"Segment {_call} call",
                "description": f"{_AUTH_NOTE} Body up to {MESSAGE_MAX_BYTES} bytes, gzip accepted.",
                "requestBody": {"required": True, "content": _json(_ref(f"Segment{_call.capitalize()}"))},
                "responses": _answers("SegmentError"),
            },
        )
    openapi_register(
        f"/v1/pixel/{_call}",
        "get",
        {
            "operationId": f"segment_pixel_{_call}",
            "tags": TAG,
            "summary": f"Segment {_call} call as a tracking pixel",
            "description": "Always answers a 1x1 GIF; refusals are logged and shown in the console.",
            "parameters": [
                {"name": "data", "in": "query", "required": True, "schema": {"type": "string"}},
                {"name": "writeKey", "in": "query", "required": False, "schema": {"type": "string"}},
            ],
            "responses": {"200": {"description": "a 1x1 GIF", "content": {"image/gif": {}}}},
        },
    )

for _path in ("/v1/batch", "/v1/b", "/v1/import", "/beacon/v1/batch"):
    _batch_answers = _answers("SegmentBatchErrors")
    _batch_answers["207"] = {
        "description": "some messages invalid; the valid ones are stored",
        "content": _json(_ref("SegmentBatchErrors")),
    }
    openapi_register(
        _path,
        "post",
        {
            "operationId": "segment" + _path.replace("/", "_"),
            "tags": TAG,
            "summary": "Segment batch",
            "description": (
                f"{_AUTH_NOTE} Up to {BATCH_MAX_MESSAGES} messages and {BATCH_MAX_BYTES} bytes (after gzip "
                "decompression); a messageId seen before is answered as accepted and not stored again."
            ),
            "requestBody": {"required": True, "content": _json(_ref("SegmentBatch"))},
            "responses": _batch_answers,
            **(
                {"parameters": [{"name": "writeKey", "in": "query", "required": False, "schema": {"type": "string"}}]}
                if _path.startswith("/beacon/")
                else {}
            ),
        },
    )

openapi_register(
    "/v1/m",
    "post",
    {
        "operationId": "segment_client_metrics",
        "tags": TAG,
        "summary": "analytics-next's own delivery metrics: acknowledged, not stored",
        "requestBody": {"required": False, "content": _json({"type": "object"})},
        "responses": {"200": {"description": "acknowledged", "content": _json(_ref("SegmentSuccess"))}},
    },
)

for _path in ("/v1/webhook", "/v1/w"):
    openapi_register(
        _path,
        "post",
        {
            "operationId": "segment" + _path.replace("/", "_"),
            "tags": TAG,
            "summary": "Analytics.js message (or batch) from another system",
            "parameters": [{"name": "writeKey", "in": "query", "required": False, "schema": {"type": "string"}}],
            "requestBody": {
                "required": True,
                "content": _json({"oneOf": [_ref("SegmentTypedMessage"), _ref("SegmentBatch")]}),
            },
            "responses": _answers("SegmentError"),
        },
    )
