"""POST /users/track: the Braze dialect (spec 3). A plain Django view, like the other ingestion hot paths."""

from __future__ import annotations

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
from apps.dialects.braze.translate import BrazeFatal, Item, translate_track
from apps.userpoints.services import identifiers_owners

# Up to 3 x 75 objects; Braze documents no byte limit, this one only bounds what a request may cost.
MAX_BYTES = 4 * 1024 * 1024
UPDATE_EXISTING_ONLY = "user does not exist and '_update_existing_only' is true"


def _known(datamart_id: int, items: list[Item]) -> set[int]:
    """Which of the `_update_existing_only` items name a user that exists now (one read for all of them)."""
    wanted = [item for item in items if item.update_existing_only]
    if not wanted:
        return set()
    owners = identifiers_owners(datamart_id, [i for item in wanted for i in item.identifiers])
    return {id(item) for item in wanted if any(i.identity in owners for i in item.identifiers)}


@ingestion_route("POST")
@csrf_exempt
def users_track(request: HttpRequest) -> JsonResponse:
    gate = request_gate(
        request,
        scope="braze",
        limit=settings.BRAZE_RATE_LIMIT_PER_MINUTE,
        max_bytes=MAX_BYTES,
        body_key_field="api_key",
    )

    def answer(status: int, body: dict[str, Any]) -> JsonResponse:
        response = JsonResponse(body, status=status)
        gate.rate.headers_set(response)
        return response

    if gate.refusal is not None:
        refusal = gate.refusal
        body: dict[str, Any] = {"message": refusal.message}
        if refusal.status in (400, 413, 415):
            body["errors"] = [{"type": refusal.message}]
        response = answer(refusal.status, body)
        if refusal.allow:
            response["Allow"] = refusal.allow
        return response
    if (retry_after := inbox_retry_after()) is not None:
        gate.rate = gate.rate.pushed_back(retry_after)
        return answer(429, {"message": backlog_message(retry_after)})
    api_key = gate.api_key
    assert api_key is not None
    try:
        translation = translate_track(
            gate.body,
            compartment_id=key_compartment_id(api_key),
            signals=request_signals(request, datamart_id=api_key.datamart_id),
        )
    except BrazeFatal as fatal:
        return answer(400, {"message": fatal.message, "errors": fatal.errors})

    known = _known(api_key.datamart_id, translation.items)
    accepted: list[Item] = []
    for item in translation.items:
        if item.update_existing_only and id(item) not in known:
            translation.skip(UPDATE_EXISTING_ONLY, item.input_array, item.index)
        else:
            accepted.append(item)
    # Braze applies attributes, then events, then purchases; the inbox keeps that order.
    accepted.sort(key=lambda item: (translation.arrays_sent.index(item.input_array), item.index))
    if accepted:
        payloads_accept(
            datamart_id=api_key.datamart_id, source=Source.BRAZE, payloads=[item.payload for item in accepted]
        )
    result: dict[str, Any] = {"message": "success"}
    for name in translation.arrays_sent:
        result[f"{name}_processed"] = sum(1 for item in accepted if item.input_array == name)
    if translation.errors:
        translation.errors.sort(key=lambda e: (translation.arrays_sent.index(e["input_array"]), e["index"]))
        result["errors"] = translation.errors
    return answer(201, result)
