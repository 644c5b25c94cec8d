from django.apps import AppConfig


class UserpointsConfig(AppConfig):
    name = "apps.userpoints"
    verbose_name = "People"
    label = "userpoints"
