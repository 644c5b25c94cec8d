"""The personal property names a datamart masks for marketers by default (spec 8). Pure: no Django import."""

from __future__ import annotations

DEFAULT_PERSONAL_PROPERTIES: tuple[str, ...] = (
    "email",
    "phone",
    "phone_number",
    "mobile",
    "first_name",
    "last_name",
    "name",
    "full_name",
    "address",
    "street",
    "postal_code",
    "zip",
    "ip",
    "ip_address",
    "birthdate",
    "date_of_birth",
)


def default_personal_properties() -> list[str]:
    return list(DEFAULT_PERSONAL_PROPERTIES)
