from django.apps import AppConfig


class ChoicesConfig(AppConfig):
    name = "apps.choices"
    verbose_name = "Consent"
    label = "choices"

    def ready(self) -> None:
        from apps.choices.services import choices_merge
        from apps.userpoints.services import merge_handler_register

        merge_handler_register(choices_merge)
