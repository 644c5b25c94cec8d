from django.contrib.admin.apps import AdminConfig


class ConsoleAdminConfig(AdminConfig):
    """django.contrib.admin with the console's site as the default `admin.site` (named in INSTALLED_APPS)."""

    default_site = "apps.console.site.ConsoleSite"
