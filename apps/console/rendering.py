"""HTML pieces for the console pages: readable key/value tables of JSON-like values. Values are masked before they
get here (apps.console.viewer), so this module renders and escapes only."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

# What a cell shows when there is no value.
NOTHING = "\N{EN DASH}"


def kv_table(value: Any) -> SafeString:
    """A dict as a two-column table, nested dicts and lists as nested tables; every text escaped."""
    return _render(value)


def _render(value: Any) -> SafeString:
    if isinstance(value, dict):
        if not value:
            return mark_safe('<span class="quiet">{}</span>')
        rows = format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", ((k, _render(v)) for k, v in value.items()))
        return format_html('<table class="kv">{}</table>', rows)
    if isinstance(value, list):
        if not value:
            return mark_safe('<span class="quiet">[]</span>')
        rows = format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", ((i, _render(v)) for i, v in enumerate(value)))
        return format_html('<table class="kv kv-list">{}</table>', rows)
    if value is None:
        return mark_safe('<span class="quiet">null</span>')
    if isinstance(value, bool):
        return format_html("<code>{}</code>", "true" if value else "false")
    return format_html("{}", value)


def ms_to_datetime(ms: int | None) -> datetime | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


# The erasure record's counts (apps.userpoints.erasure.COUNT_NAMES) in words, singular and plural.
_COUNT_WORDS = {
    "user_points": ("user point", "user points"),
    "identifiers": ("identifier", "identifiers"),
    "profiles": ("profile", "profiles"),
    "choices": ("choice", "choices"),
    "change_log_entries": ("consent change-log entry", "consent change-log entries"),
    "activities": ("activity", "activities"),
    "inbox_payloads": ("received payload", "received payloads"),
    "merges": ("merge record", "merge records"),
    "hyper_point_refusals": ("hyper-point refusal", "hyper-point refusals"),
    "processing_errors": ("processing error", "processing errors"),
}


def erasure_counts_text(counts: Any) -> str:
    """`{"activities": 3, "profiles": 1}` as "3 activities, 1 profile"; nothing deleted says so."""
    if not isinstance(counts, dict):
        return NOTHING
    parts = []
    for name, number in counts.items():
        if not isinstance(number, int) or number == 0:
            continue
        one, many = _COUNT_WORDS.get(name, (name.replace("_", " "), name.replace("_", " ")))
        parts.append(f"{number} {one if number == 1 else many}")
    return ", ".join(parts) or "nothing left to delete"
