"""What the Segment routes record besides accepted payloads."""

from __future__ import annotations

import logging
import uuid

from django.utils import timezone

from apps.activities.canonical import empty_payload
from apps.activities.models import InboxPayload, InboxStatus, ProcessingError, Source
from apps.datamarts.models import ApiKey

logger = logging.getLogger("trackingconsole.segment")


def pixel_refusal_record(*, api_key: ApiKey | None, call: str, reason: str) -> None:
    """Records why a tracking pixel was refused, since its answer (a GIF) cannot say so (spec 2).

    Always logged under an error id. When the key is valid the refusal also becomes a FAILED inbox row with a
    processing error, so the datamart's operators see it in the console next to the pipeline's own failures;
    without a valid key there is no datamart to show it to (and the key is never logged).
    """
    error_id = str(uuid.uuid4())
    logger.warning("segment pixel %s refused, error id %s: %s", call, error_id, reason)
    if api_key is None:
        return
    message = f"pixel /v1/pixel/{call} refused: {reason}"[:2000]
    payload = empty_payload()
    payload["errors"] = [message]
    row = InboxPayload.objects.create(
        datamart_id=api_key.datamart_id,
        source=Source.SEGMENT,
        payload=payload,
        received_at=timezone.now(),
        status=InboxStatus.FAILED,
        last_error=message,
    )
    ProcessingError.objects.create(datamart_id=api_key.datamart_id, payload=row, message=message)
