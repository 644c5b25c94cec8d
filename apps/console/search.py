"""Finding user points from what a privacy officer is given: a point id, an account id, an agent id, an e-mail
address or its hash. Every lookup goes through the identifiers' unique index (datamart, key, type)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable

from django.db.models import Q, QuerySet

from apps.datamarts.models import Compartment, Datamart
from apps.userpoints.identifiers import USER_ACCOUNT, USER_AGENT, USER_EMAIL, account_identifier, email_hash
from apps.userpoints.models import UserIdentifier, UserPoint, UserPointMerge

_HEX_HASH = re.compile(r"^[0-9a-fA-F]{32,128}$")


def user_points_search(
    queryset: QuerySet[UserPoint], term: str, datamart_ids: Iterable[int] | None
) -> QuerySet[UserPoint]:
    """`queryset` narrowed to the points the term names. `datamart_ids` (None: all) bounds the identifier
    lookups; the queryset is already limited to the user's datamarts, so this cannot widen it."""
    term = term.strip()
    if not term:
        return queryset
    identifiers = UserIdentifier.objects.all()
    merges = UserPointMerge.objects.all()
    compartments = Compartment.objects.all()
    # Every datamart for a superuser, listed all the same: the identifier lookup then goes through the
    # (datamart, key, type) unique index; without a datamart it read the whole table (a million rows: 170 ms).
    ids = list(Datamart.objects.values_list("pk", flat=True)) if datamart_ids is None else list(datamart_ids)
    identifiers = identifiers.filter(datamart_id__in=ids)
    merges = merges.filter(datamart_id__in=ids)
    compartments = compartments.filter(datamart_id__in=ids)

    try:
        point_id = uuid.UUID(term)
    except ValueError:
        point_id = None
    if point_id is not None:
        # A merged point's id keeps finding its survivor, as it does in the API's selectors.
        survivors = merges.filter(merged_user_point_id=point_id).values("survivor_id")
        return queryset.filter(Q(id=point_id) | Q(id__in=survivors))

    wanted = Q(type=USER_AGENT, key=term)
    if "@" in term:
        # The pipeline keys an address by its hash: hashing here finds it even where the address is not stored.
        wanted |= Q(type=USER_EMAIL, key=email_hash(term))
    if _HEX_HASH.match(term):
        wanted |= Q(type=USER_EMAIL, key=term) | Q(type=USER_EMAIL, key=term.lower())
    account_keys = [account_identifier(c, term).key for c in compartments.values_list("pk", flat=True)]
    if account_keys:
        wanted |= Q(type=USER_ACCOUNT, key__in=account_keys)
    return queryset.filter(id__in=identifiers.filter(wanted).values("user_point_id"))
