"""Consent signals carried by events (spec 6), turned into choice updates. Pure: no Django import.

A website's consent manager tells, with each event, which categories of processing the person accepts: Segment's
consent wrapper as `context.consent.categoryPreferences` (`{"Advertising": false}`), RudderStack's as
`context.consentManagement` (`allowedConsentIds` / `deniedConsentIds`, OneTrust ids such as `C0004`), Braze and
Thrivestack events as a `consent` object, and the browser as `Sec-GPC: 1` (Global Privacy Control). A datamart maps
categories onto its processings (`Processing.consent_categories`, `gpc_opt_out`); each mapped processing gets one
choice update, the same mechanism as a `$set_user_choice` event, marked with the custom field `signal`.

Rules (decided here, applied by the pipeline): a category mapped by two processings sets both; a processing given
two different values in one message (two of its categories disagree, or GPC refuses what a category accepts) is
refused.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from apps.activities.canonical import ChoiceUpdate

CATEGORY_PREFERENCES = "categoryPreferences"
CONSENT_MANAGEMENT = "consentManagement"
CONSENT_OBJECT = "consent"
GPC = "Sec-GPC"
SIGNAL_FIELD = "signal"


class SignalInvalid(ValueError):
    """A consent signal of the wrong shape; the text names the field."""


@dataclass(frozen=True)
class ConsentMap:
    """A datamart's processings as consent signals reach them."""

    by_category: Mapping[str, tuple[int, ...]] = field(default_factory=dict)  # lower-cased category → processings
    gpc_opt_out: tuple[int, ...] = ()

    @classmethod
    def build(cls, processings: list[tuple[int, list[str], bool]]) -> ConsentMap:
        """From (processing id, consent categories, gpc_opt_out) rows."""
        by_category: dict[str, list[int]] = {}
        for processing_id, categories, _gpc in processings:
            for category in categories or ():
                by_category.setdefault(category_key(category), []).append(processing_id)
        return cls(
            by_category={k: tuple(sorted(set(v))) for k, v in by_category.items()},
            gpc_opt_out=tuple(sorted(p for p, _c, gpc in processings if gpc)),
        )

    @property
    def empty(self) -> bool:
        return not self.by_category and not self.gpc_opt_out


def category_key(category: str) -> str:
    return category.strip().lower()


def categories_of_preferences(value: Any, where: str) -> dict[str, bool]:
    """`{"Advertising": false, "Analytics": true}` (Segment's categoryPreferences, Braze's and Thrivestack's
    `consent`), checked."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise SignalInvalid(f"{where}: must be an object of category: true/false")
    result: dict[str, bool] = {}
    for category, accepted in value.items():
        if not isinstance(accepted, bool):
            raise SignalInvalid(f"{where}.{str(category)[:64]}: must be true or false")
        result[str(category)] = accepted
    return result


def _consent_ids(value: Any, where: str) -> list[str]:
    # RudderStack accepts a list of ids, or (OneTrust's older shape) an object whose keys are the ids.
    if value is None:
        return []
    if isinstance(value, dict):
        return [str(k) for k in value]
    if isinstance(value, list) and all(isinstance(v, str | int) and not isinstance(v, bool) for v in value):
        return [str(v) for v in value]
    raise SignalInvalid(f"{where}: must be a list of consent ids")


def categories_of_consent_management(value: Any, where: str) -> dict[str, bool]:
    """RudderStack's `{"provider": "oneTrust", "allowedConsentIds": [...], "deniedConsentIds": [...]}`: allowed
    ids accepted, denied ids refused (an id in both: refused)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise SignalInvalid(f"{where}: must be an object")
    result = dict.fromkeys(_consent_ids(value.get("allowedConsentIds"), f"{where}.allowedConsentIds"), True)
    for consent_id in _consent_ids(value.get("deniedConsentIds"), f"{where}.deniedConsentIds"):
        result[consent_id] = False
    return result


def signal_choice_updates(
    consent_map: ConsentMap,
    *,
    categories: Mapping[str, bool],
    signal: str,
    gpc: bool,
    choice_ts: int,
    source_ref: str | None = None,
) -> list[ChoiceUpdate]:
    """The choice updates one message's signals make: one per processing they reach, refusal on conflict."""
    values: dict[int, set[bool]] = {}
    reasons: dict[int, dict[str, bool]] = {}
    for category, accepted in categories.items():
        for processing_id in consent_map.by_category.get(category_key(category), ()):
            values.setdefault(processing_id, set()).add(accepted)
            reasons.setdefault(processing_id, {})[category] = accepted
    refused_by_gpc = set(consent_map.gpc_opt_out) if gpc else set()
    for processing_id in refused_by_gpc:
        values.setdefault(processing_id, set()).add(False)
    updates: list[ChoiceUpdate] = []
    for processing_id in sorted(values):
        accepted = all(values[processing_id])  # any refusal wins
        custom: dict[str, Any] = {}
        if processing_id in refused_by_gpc:
            custom[SIGNAL_FIELD] = GPC if processing_id not in reasons else f"{GPC}, {signal}"
        else:
            custom[SIGNAL_FIELD] = signal
        if processing_id in reasons:
            custom["categories"] = reasons[processing_id]
        update: ChoiceUpdate = {
            "processing_id": str(processing_id),
            "choice_ts": choice_ts,
            "acceptance_value": accepted,
            "custom_fields": custom,
            "signal": True,
        }
        if source_ref is not None:
            update["source_ref"] = source_ref
        updates.append(update)
    return updates


@dataclass(frozen=True)
class Signals:
    """A request's consent context for the translators: its datamart's map, read only when a message carries a
    signal (`consent_map` is called lazily), and whether the request says Global Privacy Control."""

    consent_map: Callable[[], ConsentMap]
    gpc: bool = False

    def choice_updates(
        self, *, categories: Mapping[str, bool], signal: str, choice_ts: int, source_ref: str | None = None
    ) -> list[ChoiceUpdate]:
        if not categories and not self.gpc:
            return []
        return signal_choice_updates(
            self.consent_map(),
            categories=categories,
            signal=signal,
            gpc=self.gpc,
            choice_ts=choice_ts,
            source_ref=source_ref,
        )


def _no_map() -> ConsentMap:
    return ConsentMap()


NO_SIGNALS = Signals(consent_map=_no_map)
