"""Exercise.revision, raised by triggers on every change to an exercise or its test
cases, so that no write path (forms, course import, bulk updates, raw SQL) can forget it.
A save that writes back an older revision than the row holds still raises it."""

from django.db import migrations, models

PL = "LANGUAGE plpgsql"
CREATE = {
    "postgresql": [
        f"""CREATE FUNCTION lessons_exercise_raise_revision() RETURNS trigger AS $$
        BEGIN
            NEW.revision := OLD.revision + 1;
            RETURN NEW;
        END $$ {PL}""",
        """CREATE TRIGGER lessons_exercise_revision BEFORE UPDATE ON lessons_exercise
        FOR EACH ROW EXECUTE FUNCTION lessons_exercise_raise_revision()""",
        f"""CREATE FUNCTION lessons_case_raise_revision() RETURNS trigger AS $$
        BEGIN
            IF TG_OP <> 'INSERT' THEN
                UPDATE lessons_exercise SET revision = revision + 1 WHERE id = OLD.exercise_id;
            END IF;
            IF TG_OP <> 'DELETE' THEN
                UPDATE lessons_exercise SET revision = revision + 1 WHERE id = NEW.exercise_id;
            END IF;
            RETURN NULL;
        END $$ {PL}""",
        """CREATE TRIGGER lessons_case_revision AFTER INSERT OR UPDATE OR DELETE ON lessons_case
        FOR EACH ROW EXECUTE FUNCTION lessons_case_raise_revision()""",
    ],
    # SQLite's triggers cannot change the row being written: an AFTER trigger raises the
    # revision unless the statement already did (as the test cases' triggers do).
    "sqlite": [
        """CREATE TRIGGER lessons_exercise_revision AFTER UPDATE ON lessons_exercise
        FOR EACH ROW WHEN NEW.revision <= OLD.revision BEGIN
            UPDATE lessons_exercise SET revision = OLD.revision + 1 WHERE id = NEW.id;
        END""",
        """CREATE TRIGGER lessons_case_revision_insert AFTER INSERT ON lessons_case BEGIN
            UPDATE lessons_exercise SET revision = revision + 1 WHERE id = NEW.exercise_id;
        END""",
        """CREATE TRIGGER lessons_case_revision_update AFTER UPDATE ON lessons_case BEGIN
            UPDATE lessons_exercise SET revision = revision + 1
            WHERE id IN (OLD.exercise_id, NEW.exercise_id);
        END""",
        """CREATE TRIGGER lessons_case_revision_delete AFTER DELETE ON lessons_case BEGIN
            UPDATE lessons_exercise SET revision = revision + 1 WHERE id = OLD.exercise_id;
        END""",
    ],
}
DROP = {
    "postgresql": [
        "DROP TRIGGER lessons_case_revision ON lessons_case",
        "DROP FUNCTION lessons_case_raise_revision()",
        "DROP TRIGGER lessons_exercise_revision ON lessons_exercise",
        "DROP FUNCTION lessons_exercise_raise_revision()",
    ],
    "sqlite": [
        "DROP TRIGGER lessons_case_revision_delete",
        "DROP TRIGGER lessons_case_revision_update",
        "DROP TRIGGER lessons_case_revision_insert",
        "DROP TRIGGER lessons_exercise_revision",
    ],
}


def create_triggers(apps, schema_editor):
    for statement in CREATE[schema_editor.connection.vendor]:
        schema_editor.execute(statement, params=None)


def drop_triggers(apps, schema_editor):
    for statement in DROP[schema_editor.connection.vendor]:
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("lessons", "0002_regrade"),
    ]

    operations = [
        migrations.AddField(
            model_name="exercise",
            name="revision",
            field=models.PositiveIntegerField(default=0, editable=False),
        ),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
