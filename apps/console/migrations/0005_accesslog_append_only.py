"""On PostgreSQL the database itself keeps the access log append-only: no UPDATE and no DELETE, from any client.
(TRUNCATE, which only the owner of the table can run, stays possible, as for the consent change log.)"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION console_accesslog_guard() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the access log is append-only: entries cannot be changed or deleted';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER console_accesslog_append_only
    BEFORE UPDATE OR DELETE ON console_accesslogentry
    FOR EACH ROW EXECUTE FUNCTION console_accesslog_guard();
"""
DROP = """
DROP TRIGGER IF EXISTS console_accesslog_append_only ON console_accesslogentry;
DROP FUNCTION IF EXISTS console_accesslog_guard();
"""


def forwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def backwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("console", "0004_accesslogentry")]
    operations = [migrations.RunPython(forwards, backwards)]
