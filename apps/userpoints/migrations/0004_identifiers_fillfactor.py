"""Room on every page of the identifiers table, so that the drain's update of `last_activity_ts` (an unindexed
column, on every identifier that comes with an activity) is a HOT update: the row is rewritten in its own page and
none of the table's six indexes is touched. At the default fillfactor (100) every such update wrote a new entry in
each index, and it was the drain's most expensive statement (bench/ingest)."""

from django.db import migrations


def fillfactor(value: int):
    def apply(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f"ALTER TABLE userpoints_useridentifier SET (fillfactor = {value})")

    return apply


class Migration(migrations.Migration):
    dependencies = [("userpoints", "0003_human_labels")]

    operations = [migrations.RunPython(fillfactor(70), fillfactor(100))]
