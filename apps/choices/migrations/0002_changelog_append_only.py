"""On PostgreSQL the database itself keeps the consent change log append-only: an UPDATE may only move an entry
to another user point (a merge), and a DELETE needs the erasure flag that only the erasure service sets."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION choices_changelog_guard() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF coalesce(current_setting('trackingconsole.erasure', true), '') = 'on' THEN
            RETURN OLD;
        END IF;
        RAISE EXCEPTION 'the consent change log is append-only: entries are deleted only by erasure';
    END IF;
    IF (to_jsonb(NEW) - 'user_point_id') IS DISTINCT FROM (to_jsonb(OLD) - 'user_point_id') THEN
        RAISE EXCEPTION 'the consent change log is append-only: entries cannot be changed';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER choices_changelog_append_only
    BEFORE UPDATE OR DELETE ON choices_choicechangelogentry
    FOR EACH ROW EXECUTE FUNCTION choices_changelog_guard();
"""
DROP = """
DROP TRIGGER IF EXISTS choices_changelog_append_only ON choices_choicechangelogentry;
DROP FUNCTION IF EXISTS choices_changelog_guard();
"""


def forwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def backwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("choices", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
