"""POST /v1/datamarts/{id}/user_activities: a plain Django view, because it is the hot path (spec 1.3)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from apps.activities.backpressure import backlog_message, inbox_retry_after
from apps.activities.inbox import inbox_accept
from apps.activities.mics import ActivityInvalid, Compartments, translate_activity
from apps.activities.models import Source
from apps.choices.signals import GPC
from apps.core.bodies import BodyTooLarge, BodyUnreadable, body_bytes, is_json_content_type, json_loads
from apps.core.cors import ingestion_route, origin_refusal
from apps.core.errors import ApiError, FieldError, mics_ok
from apps.datamarts.auth import authenticate
from apps.datamarts.models import Scope
from apps.datamarts.selectors import compartments_of, request_signals


@ingestion_route("POST")
@csrf_exempt
def user_activities_post(request: HttpRequest, datamart_id: str) -> JsonResponse:
    if request.method != "POST":
        raise ApiError(405, f"Method {request.method} not allowed; use POST", allow="POST, OPTIONS")
    api_key = authenticate(request, datamart_id=datamart_id, scope=Scope.INGEST)
    if refusal := origin_refusal(request, api_key.datamart.allowed_origins):
        raise ApiError(403, refusal, "FORBIDDEN")
    if (retry_after := inbox_retry_after()) is not None:
        raise ApiError(429, backlog_message(retry_after), "RATE_LIMITED", retry_after=retry_after)
    if not is_json_content_type(request):
        raise ApiError(415, "The body must be application/json")
    try:
        body = json_loads(body_bytes(request, limit=settings.ACTIVITY_MAX_BYTES))
    except BodyTooLarge:
        raise ApiError(413, f"The body exceeds {settings.ACTIVITY_MAX_BYTES} bytes") from None
    except BodyUnreadable as exc:
        raise ApiError(400, str(exc), "MALFORMED_JSON") from None
    ids, default_id = compartments_of(datamart_id=api_key.datamart_id)
    assert default_id is not None, "every datamart has a default compartment"
    try:
        payload, unique_key = translate_activity(body, Compartments(ids, default_id))
    except ActivityInvalid as exc:
        raise ApiError(
            400, "The activity is not valid", "VALIDATION_ERROR", [FieldError(f, m) for f, m in exc.details]
        ) from None
    activity = payload.get("activity")
    if activity is not None:
        # Global Privacy Control refuses the datamart's opted-out processings, as of the activity (spec 6).
        signals = request_signals(request, datamart_id=api_key.datamart_id)
        payload["choice_updates"].extend(signals.choice_updates(categories={}, signal=GPC, choice_ts=activity["ts"]))
    accepted = inbox_accept(
        datamart_id=api_key.datamart_id, source=Source.ACTIVITY, payload=payload, unique_key=unique_key
    )
    return mics_ok({"activity_id": str(accepted.payload_id)})
