"""What the request's user may see. Computed from the request's user alone and passed explicitly to whatever renders
(never kept on a ModelAdmin, a form or a module global: those serve every thread of the process)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from apps.console.masking import MaskingPolicy, personal_names_normalise
from apps.datamarts.models import Datamart
from apps.datamarts.personal import DEFAULT_PERSONAL_PROPERTIES

VIEW_PERSONAL_DATA = "console.view_email"


@dataclass(frozen=True)
class Viewer:
    """A console user's view: in clear (`policies` is None) or masked by each datamart's policy."""

    policies: dict[int, MaskingPolicy] | None
    fallback: MaskingPolicy | None = field(default=None)

    @property
    def masked(self) -> bool:
        return self.policies is not None

    def policy(self, datamart_id: int | None) -> MaskingPolicy | None:
        if self.policies is None:
            return None
        found = self.policies.get(datamart_id) if datamart_id is not None else None
        return found or self.fallback

    def text(self, text: str | None, datamart_id: int | None) -> str:
        if not text:
            return text or ""
        policy = self.policy(datamart_id)
        return policy.text(text) if policy else text

    def address(self, email: str, datamart_id: int | None) -> str:
        """An e-mail address identifier: masked with its tag, or in clear."""
        policy = self.policy(datamart_id)
        return policy.identifier(email) if policy else email

    def value(self, value: Any, datamart_id: int | None) -> Any:
        policy = self.policy(datamart_id)
        return policy.value(value) if policy else value


def _secret() -> bytes:
    return ("console-masking:" + settings.SECRET_KEY).encode()


def viewer_build(user: Any, datamart_ids: frozenset[int] | None) -> Viewer:
    """The view of `user`: in clear with the permission to see personal data, otherwise masked by the policy of
    each datamart it may see (`datamart_ids`, None for all; one query)."""
    if user.has_perm(VIEW_PERSONAL_DATA):
        return Viewer(policies=None)
    secret = _secret()
    datamarts = Datamart.objects.all()
    ids = datamart_ids
    if ids is not None:
        datamarts = datamarts.filter(pk__in=ids)
    policies = {
        pk: MaskingPolicy(personal_names=personal_names_normalise(names or ()), secret=secret)
        for pk, names in datamarts.values_list("pk", "personal_properties")
    }
    fallback = MaskingPolicy(personal_names=personal_names_normalise(DEFAULT_PERSONAL_PROPERTIES), secret=secret)
    return Viewer(policies=policies, fallback=fallback)
