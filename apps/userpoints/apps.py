from django.apps import AppConfig


class UserpointsConfig(AppConfig):
    name = "apps.userpoints"
    label = "userpoints"
