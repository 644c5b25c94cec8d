from django.apps import AppConfig


class DatamartsConfig(AppConfig):
    name = "apps.datamarts"
    verbose_name = "Configuration"
    label = "datamarts"
