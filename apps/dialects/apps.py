from django.apps import AppConfig


class DialectsConfig(AppConfig):
    name = "apps.dialects"
    label = "dialects"
