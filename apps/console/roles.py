"""The three console roles, as Django groups, and the permissions each one holds."""

from __future__ import annotations

from typing import Any

ADMINISTRATOR = "administrator"
PRIVACY_OFFICER = "privacy_officer"
MARKETER = "marketer"
ROLES = (ADMINISTRATOR, PRIVACY_OFFICER, MARKETER)

# What a marketer needs to browse people: points, profiles, activities and the current consent.
_BROWSE = [
    "userpoints.view_userpoint",
    "userpoints.view_useridentifier",
    "userpoints.view_userpointmerge",
    "userpoints.view_hyperpointrefusal",
    "profiles.view_profile",
    "activities.view_activity",
    "choices.view_choice",
    # Audience sizes: how many people accepted each processing; its CSV masks what a marketer may not read.
    "console.view_consent_report",
]
# User rights and the consent record: the change log, processing errors, payloads, erasures, raw addresses.
_PRIVACY = [
    "choices.view_choicechangelogentry",
    "activities.view_processingerror",
    "activities.view_inboxpayload",
    "userpoints.view_erasurerecord",
    "datamarts.view_datamart",
    "datamarts.view_compartment",
    "datamarts.view_processing",
    "console.view_email",
    "console.export_userpoint",
    "console.erase_userpoint",
    "console.record_choice",
    "console.view_accesslogentry",
]
# Configuration. No delete permission on purpose: keys are revoked, never deleted, and removing a datamart,
# compartment or processing would take consent records with it.
_CONFIGURATION = [
    "datamarts.add_datamart",
    "datamarts.change_datamart",
    "datamarts.add_compartment",
    "datamarts.change_compartment",
    "datamarts.add_processing",
    "datamarts.change_processing",
    "datamarts.view_apikey",
    "datamarts.add_apikey",
    "datamarts.change_apikey",
]

ROLE_PERMISSIONS: dict[str, list[str]] = {
    MARKETER: _BROWSE,
    PRIVACY_OFFICER: _BROWSE + _PRIVACY,
    ADMINISTRATOR: _BROWSE + _PRIVACY + _CONFIGURATION,
}


def roles_sync(group_model: Any, permission_model: Any) -> None:
    """Creates the groups and sets each one's permissions to exactly its list. Takes the models as arguments so
    the data migration can pass its historical ones; a permission whose model does not exist yet is skipped (the
    post_migrate hook adds it once the model's migration has run)."""
    for role, names in ROLE_PERMISSIONS.items():
        group, _ = group_model.objects.get_or_create(name=role)
        wanted = []
        for name in names:
            app_label, codename = name.split(".")
            permission = permission_model.objects.filter(content_type__app_label=app_label, codename=codename).first()
            if permission is not None:
                wanted.append(permission)
        group.permissions.set(wanted)


def roles_sync_after_migrate(sender: Any, **kwargs: Any) -> None:
    from django.contrib.auth.models import Group, Permission

    if getattr(sender, "label", None) != "console":
        return  # once per migrate run is enough: the console app migrates after the apps it refers to
    roles_sync(Group, Permission)
