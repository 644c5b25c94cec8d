"""E-mail masking for users without `console.view_email` (marketers). Pure: no Django import."""

from __future__ import annotations

import re
from typing import Any

from apps.userpoints.identifiers import email_normalise

# Deliberately loose: masking something that only looks like an address is harmless, missing one is not.
EMAIL_RE = re.compile(r"[^\s@<>\"',;:()\[\]]+@[^\s@<>\"',;:()\[\]]+\.[^\s@<>\"',;:()\[\]]+")


def email_mask(address: str) -> str:
    """`John@Example.com` → `j***@example.com`: enough to recognise a domain, not a person. Normalised first,
    as the pipeline does, so one address always masks the same way."""
    local, at, domain = email_normalise(address).partition("@")
    if not at:
        return "***"
    return f"{local[:1]}***@{domain}"


def mask_text(text: str) -> str:
    return EMAIL_RE.sub(lambda m: email_mask(m.group(0)), text)


def mask_value(value: Any) -> Any:
    """The same JSON-like value with every e-mail address inside its strings (keys included) masked."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {mask_text(str(k)): mask_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_value(v) for v in value]
    return value
