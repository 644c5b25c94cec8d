from django.apps import AppConfig


class ProfilesConfig(AppConfig):
    name = "apps.profiles"
    verbose_name = "Profiles"
    label = "profiles"

    def ready(self) -> None:
        from apps.profiles.services import profiles_merge
        from apps.userpoints.services import merge_handler_register

        merge_handler_register(profiles_merge)
