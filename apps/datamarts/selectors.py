from __future__ import annotations

from apps.datamarts.models import ApiKey, Compartment
from apps.datamarts.services import api_key_hash


def api_key_get_active(*, raw_key: str) -> ApiKey | None:
    """The active key with this secret, with its datamart loaded; None for unknown or revoked keys."""
    if not raw_key:
        return None
    return (
        ApiKey.objects.select_related("datamart")
        .filter(key_hash=api_key_hash(raw_key), revoked_at__isnull=True)
        .first()
    )


def compartments_of(*, datamart_id: int) -> tuple[set[int], int | None]:
    """The datamart's compartment ids and its default compartment id."""
    ids: set[int] = set()
    default: int | None = None
    for pk, is_default in Compartment.objects.filter(datamart_id=datamart_id).values_list("pk", "is_default"):
        ids.add(pk)
        if is_default:
            default = pk
    return ids, default
