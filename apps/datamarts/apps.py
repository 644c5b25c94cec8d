from django.apps import AppConfig


class DatamartsConfig(AppConfig):
    name = "apps.datamarts"
    label = "datamarts"
