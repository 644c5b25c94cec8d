"""Beat's task for the time partitions and the retention (apps/activities/partitions.py)."""

from __future__ import annotations

from celery import shared_task
from django.db import DatabaseError

from apps.activities.partitions import Maintenance, partitions_maintain


@shared_task(autoretry_for=(DatabaseError,), retry_backoff=True, retry_backoff_max=600, max_retries=5)
def partitions_daily() -> Maintenance:
    """Creates the partitions of the months ahead and applies each datamart's retention; safe to run twice."""
    return partitions_maintain()
