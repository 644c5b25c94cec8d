from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    name = "apps.console"
    verbose_name = "Accountability"
    label = "console"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from apps.console.roles import roles_sync_after_migrate

        # The data migration creates the roles; this keeps them complete when a later migration of another app
        # adds a model (and so a permission) that a role should have.
        post_migrate.connect(roles_sync_after_migrate, dispatch_uid="console-roles-sync")
