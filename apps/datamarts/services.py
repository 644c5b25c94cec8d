"""Configuration services: datamarts, compartments, processings and API keys."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from apps.core.cors import origins_normalise
from apps.datamarts.models import ApiKey, Compartment, Datamart, LegalBasis, Processing, Scope

KEY_PREFIX = "tck_"


def api_key_hash(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


@transaction.atomic
def datamart_create(
    *,
    name: str,
    default_compartment_name: str = "Default",
    personal_properties: list[str] | None = None,
    allowed_origins: list[str] | None = None,
    retention_days: int | None = None,
) -> Datamart:
    """Creates a datamart together with its one default compartment. `personal_properties` (the names masked for
    marketers) defaults to spec 8's list; `allowed_origins` (normalised here; ValueError for one that is not an
    origin) to none, which lets every origin send; `retention_days` to none, which keeps data forever."""
    datamart = Datamart(
        name=name, allowed_origins=origins_normalise(allowed_origins or []), retention_days=retention_days
    )
    if personal_properties is not None:
        datamart.personal_properties = personal_properties
    datamart.save()
    Compartment.objects.create(datamart=datamart, name=default_compartment_name, is_default=True)
    return datamart


def compartment_create(*, datamart: Datamart, name: str) -> Compartment:
    return Compartment.objects.create(datamart=datamart, name=name, is_default=False)


def processing_create(
    *,
    datamart: Datamart,
    name: str,
    legal_basis: str,
    consent_categories: list[str] | None = None,
    gpc_opt_out: bool = False,
) -> Processing:
    """A processing; `consent_categories` and `gpc_opt_out` say which consent signals of events decide it
    (spec 6)."""
    if legal_basis not in LegalBasis.values:
        raise ValueError(f"legal basis must be one of {', '.join(LegalBasis.values)}")
    return Processing.objects.create(
        datamart=datamart,
        name=name,
        legal_basis=legal_basis,
        consent_categories=consent_categories_normalise(consent_categories or []),
        gpc_opt_out=gpc_opt_out,
    )


def consent_categories_normalise(categories: list[str]) -> list[str]:
    """Trimmed, without empties or repeats (compared case-insensitively, as signals are); order kept."""
    result: list[str] = []
    for category in categories:
        name = category.strip()
        if name and name.lower() not in (c.lower() for c in result):
            result.append(name)
    return result


@dataclass(frozen=True)
class CreatedApiKey:
    api_key: ApiKey
    raw_key: str  # shown once, never stored


def api_key_create(
    *, datamart: Datamart, name: str, scopes: list[str], compartment: Compartment | None = None
) -> CreatedApiKey:
    """Creates a key; its secret is returned here and only here (the database keeps its hash)."""
    unknown = set(scopes) - set(Scope.values)
    if unknown or not scopes:
        raise ValueError(f"scopes must be a non-empty subset of {', '.join(Scope.values)}")
    if compartment is not None and compartment.datamart_id != datamart.pk:
        raise ValueError("the compartment belongs to another datamart")
    raw_key = KEY_PREFIX + secrets.token_urlsafe(32)
    api_key = ApiKey.objects.create(
        datamart=datamart,
        compartment=compartment,
        name=name,
        key_hash=api_key_hash(raw_key),
        key_prefix=raw_key[:10],
        scopes=sorted(set(scopes)),
    )
    return CreatedApiKey(api_key=api_key, raw_key=raw_key)


def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
    return api_key


def datamart_configure(
    *, datamart: Datamart, allowed_origins: list[str] | None = None, personal_properties: list[str] | None = None
) -> Datamart:
    """Changes what is given (None: left as it is); origins are normalised (ValueError for one that is not)."""
    fields = []
    if allowed_origins is not None:
        datamart.allowed_origins = origins_normalise(allowed_origins)
        fields.append("allowed_origins")
    if personal_properties is not None:
        datamart.personal_properties = [p.strip() for p in personal_properties if p.strip()]
        fields.append("personal_properties")
    if fields:
        datamart.save(update_fields=fields)
    return datamart
