"""On PostgreSQL, activities and the inbox become partitioned by month of storage (apps/activities/partitions.py,
docs/partitioning.md). Django's state is unchanged but for ProcessingError.payload, which loses its database
constraint: a foreign key to a partitioned table must name its whole primary key (id, received_at). The ORM still
cascades the deletes; the retention deletes a dropped partition's errors itself. On SQLite the tables stay plain."""

import django.db.models.deletion
from django.db import migrations, models


def forwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "postgresql":
        return
    from apps.activities import partitions

    for spec in partitions.TABLES:
        partitions.table_partition(spec)


class Migration(migrations.Migration):
    # One transaction: a failure half-way leaves the tables as they were.
    atomic = True

    dependencies = [
        ("activities", "0004_activity_datamart_ts"),
    ]

    operations = [
        migrations.AlterField(
            model_name="processingerror",
            name="payload",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="errors",
                to="activities.inboxpayload",
            ),
        ),
        # Backwards leaves the tables partitioned: they keep working with the previous code.
        migrations.RunPython(forwards, migrations.RunPython.noop),
    ]
