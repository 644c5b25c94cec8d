"""The three console roles as groups with their permissions (apps/console/roles.py says which)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations


def roles_create(apps, schema_editor):
    from apps.console.roles import roles_sync

    # Permissions are normally created after the whole migrate run (post_migrate); the groups need them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    roles_sync(apps.get_model("auth", "Group"), apps.get_model("auth", "Permission"))


def roles_delete(apps, schema_editor):
    from apps.console.roles import ROLES

    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("console", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("datamarts", "0001_initial"),
        ("userpoints", "0001_initial"),
        ("activities", "0001_initial"),
        ("profiles", "0001_initial"),
        ("choices", "0001_initial"),
    ]

    operations = [migrations.RunPython(roles_create, roles_delete)]
