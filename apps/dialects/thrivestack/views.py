"""POST /api/track, /api/identify, /api/group: the Thrivestack dialect (spec 4). Plain Django views."""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from apps.activities.backpressure import backlog_message, inbox_retry_after
from apps.activities.models import Source
from apps.core.cors import ingestion_route
from apps.datamarts.selectors import request_signals
from apps.dialects.braze.gate import request_gate
from apps.dialects.braze.services import key_compartment_id, payloads_accept
from apps.dialects.thrivestack.translate import ThrivestackInvalid, translate

logger = logging.getLogger("trackingconsole.api")

MAX_BYTES = 1024 * 1024
SUCCESS = "Event(s) tracked successfully"


def _receive(request: HttpRequest, kind: str) -> JsonResponse:
    # The response id is logged with the outcome, so an operator can find the request a client quotes.
    response_id = str(uuid.uuid4())
    gate = request_gate(
        request, scope="thrivestack", limit=settings.THRIVESTACK_RATE_LIMIT_PER_MINUTE, max_bytes=MAX_BYTES
    )

    def answer(status: int, message: str) -> JsonResponse:
        body: dict[str, Any] = {"success": status == 200, "message": message, "response_id": response_id}
        if status != 200:
            logger.info("thrivestack %s refused %s %s: %s", kind, response_id, status, message)
        return gate.rate.headers_set(JsonResponse(body, status=status))

    if gate.refusal is not None:
        response = answer(gate.refusal.status, gate.refusal.message)
        if gate.refusal.allow:
            response["Allow"] = gate.refusal.allow
        return response
    if (retry_after := inbox_retry_after()) is not None:
        gate.rate = gate.rate.pushed_back(retry_after)
        return answer(429, backlog_message(retry_after))
    api_key = gate.api_key
    assert api_key is not None
    try:
        payloads = translate(
            kind,
            gate.body,
            compartment_id=key_compartment_id(api_key),
            now_ms=int(time.time() * 1000),
            signals=request_signals(request, datamart_id=api_key.datamart_id),
        )
    except ThrivestackInvalid as exc:
        return answer(400, str(exc))
    payloads_accept(datamart_id=api_key.datamart_id, source=Source.THRIVESTACK, payloads=payloads)
    return answer(200, SUCCESS)


@ingestion_route("POST")
@csrf_exempt
def track(request: HttpRequest) -> JsonResponse:
    return _receive(request, "track")


@ingestion_route("POST")
@csrf_exempt
def identify(request: HttpRequest) -> JsonResponse:
    return _receive(request, "identify")


@ingestion_route("POST")
@csrf_exempt
def group(request: HttpRequest) -> JsonResponse:
    return _receive(request, "group")
