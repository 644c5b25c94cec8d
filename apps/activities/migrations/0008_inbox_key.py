"""The inbox's dedupe key moves to a table of its own, InboxKey (docs/partitioning.md, apps/activities/inbox.py).

On PostgreSQL the inbox is partitioned by month and its unique index on (datamart_id, unique_key) was one per
partition: a retry that arrived in another month than the first copy was stored twice. The key table is not
partitioned. This migration fills it from the inbox (for each key, the oldest payload: the one the routes answered),
then drops the per-partition unique indexes (and Django's `inbox_unique_key`, which only a plain table still has),
which nothing uses any more. One transaction, like 0005: the inbox is read once, its indexes dropped at the end.

Payloads accepted by processes still running the previous code after this migration have no key row: deploy the
code with the migration (as usual), or run the fill again by hand (it is idempotent: ON CONFLICT DO NOTHING).
"""

import django.db.models.deletion
from django.db import migrations, models

INBOX = "activities_inboxpayload"
KEYS = "activities_inboxkey"


def keys_fill(apps, schema_editor):  # type: ignore[no-untyped-def]
    with schema_editor.connection.cursor() as cursor:
        if schema_editor.connection.vendor == "postgresql":
            # Oldest first: the payload every duplicate was answered with, whichever month it is in.
            cursor.execute(
                f"INSERT INTO {KEYS} (datamart_id, unique_key, payload_id, received_at)"
                " SELECT DISTINCT ON (datamart_id, unique_key) datamart_id, unique_key, id, received_at"
                f" FROM {INBOX} WHERE unique_key IS NOT NULL ORDER BY datamart_id, unique_key, received_at, id"
                " ON CONFLICT DO NOTHING"
            )
        else:
            # A plain table with its unique constraint: one row per key already.
            cursor.execute(
                f"INSERT OR IGNORE INTO {KEYS} (datamart_id, unique_key, payload_id, received_at)"
                f" SELECT datamart_id, unique_key, id, received_at FROM {INBOX} WHERE unique_key IS NOT NULL"
            )


def _inbox_partitions(cursor) -> list[str]:  # type: ignore[no-untyped-def]
    cursor.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = %s::regclass",
        [INBOX],
    )
    return [row[0] for row in cursor.fetchall()]


def unique_indexes_drop(apps, schema_editor):  # type: ignore[no-untyped-def]
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("DROP INDEX IF EXISTS inbox_unique_key")
        if schema_editor.connection.vendor == "postgresql":
            # The names apps/activities/partitions.py gave them when it created the partitions.
            for name in _inbox_partitions(cursor):
                cursor.execute(f"DROP INDEX IF EXISTS {name}_unique_key")


def unique_indexes_create(apps, schema_editor):  # type: ignore[no-untyped-def]
    """Backwards: the previous code's indexes (it fails if a key was stored twice meanwhile, as a unique index must)."""
    with schema_editor.connection.cursor() as cursor:
        if schema_editor.connection.vendor == "postgresql":
            for name in _inbox_partitions(cursor):
                cursor.execute(
                    f"CREATE UNIQUE INDEX IF NOT EXISTS {name}_unique_key ON {name} (datamart_id, unique_key)"
                    " WHERE unique_key IS NOT NULL"
                )
        else:
            cursor.execute(
                f"CREATE UNIQUE INDEX IF NOT EXISTS inbox_unique_key ON {INBOX} (datamart_id, unique_key)"
                " WHERE unique_key IS NOT NULL"
            )


class Migration(migrations.Migration):
    atomic = True

    dependencies = [
        ("activities", "0007_activity_no_single_column_indexes"),
        ("datamarts", "0006_datamart_retention_days"),
    ]

    operations = [
        migrations.CreateModel(
            name="InboxKey",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "datamart_id", "unique_key", blank=True, editable=False, primary_key=True, serialize=False
                    ),
                ),
                (
                    "datamart",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        to="datamarts.datamart",
                    ),
                ),
                ("unique_key", models.CharField(max_length=255, verbose_name="dedupe key")),
                ("payload_id", models.UUIDField(verbose_name="first payload")),
                ("received_at", models.DateTimeField(verbose_name="received")),
            ],
            options={
                "indexes": [models.Index(fields=["datamart", "received_at"], name="inboxkey_datamart_received")],
            },
        ),
        migrations.RunPython(keys_fill, migrations.RunPython.noop),
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.RemoveConstraint(model_name="inboxpayload", name="inbox_unique_key")],
            database_operations=[migrations.RunPython(unique_indexes_drop, unique_indexes_create)],
        ),
    ]
