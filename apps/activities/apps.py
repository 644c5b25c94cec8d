from django.apps import AppConfig


class ActivitiesConfig(AppConfig):
    name = "apps.activities"
    verbose_name = "Activities and ingestion"
    label = "activities"

    def ready(self) -> None:
        from apps.activities.pipeline import activities_merge
        from apps.userpoints.services import merge_handler_register

        merge_handler_register(activities_merge)
