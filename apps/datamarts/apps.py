from typing import Any

from django.apps import AppConfig
from django.db import transaction
from django.db.models.signals import post_delete, post_save


class DatamartsConfig(AppConfig):
    name = "apps.datamarts"
    verbose_name = "Configuration"
    label = "datamarts"

    def ready(self) -> None:
        from apps.datamarts.models import ApiKey, Compartment, Datamart

        for model in (ApiKey, Compartment, Datamart):
            post_save.connect(_config_changed, sender=model, dispatch_uid=f"config-cache-{model.__name__}")
            post_delete.connect(_config_changed, sender=model, dispatch_uid=f"config-cache-delete-{model.__name__}")


def _config_changed(**kwargs: Any) -> None:
    """A revoked key is refused at once by this process: its cached keys and compartments are forgotten now, and
    again when the change commits (another thread may have read the old rows in between)."""
    from apps.datamarts.selectors import config_cache_clear

    config_cache_clear()
    transaction.on_commit(config_cache_clear, using=kwargs.get("using"))
