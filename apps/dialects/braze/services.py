"""Accepting the payloads of one dialect request together (used by the Braze and Thrivestack routes)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from apps.activities.canonical import CanonicalPayload
from apps.activities.inbox import drain_nudge
from apps.activities.models import InboxPayload
from apps.datamarts.models import ApiKey
from apps.datamarts.selectors import compartments_of


def payloads_accept(*, datamart_id: int, source: str, payloads: list[CanonicalPayload]) -> list[uuid.UUID]:
    """Commits every payload of one request in one transaction (all or none), then nudges a worker once.

    Each payload is received one microsecond after the previous one: the pipeline takes the inbox in
    `received_at` order, so two attribute updates of one user apply in the order they were sent.
    """
    now = timezone.now()
    rows = [
        InboxPayload(
            datamart_id=datamart_id, source=source, payload=payload, received_at=now + timedelta(microseconds=index)
        )
        for index, payload in enumerate(payloads)
    ]
    with transaction.atomic():
        InboxPayload.objects.bulk_create(rows)
    drain_nudge()
    return [row.id for row in rows]


def key_compartment_id(api_key: ApiKey) -> int:
    """Where user ids without a compartment live: the key's compartment, else the datamart's default (spec 0)."""
    if api_key.compartment_id is not None:
        return api_key.compartment_id
    _ids, default_id = compartments_of(datamart_id=api_key.datamart_id)
    assert default_id is not None, "every datamart has a default compartment"
    return default_id
