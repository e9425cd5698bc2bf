"""Drop Exercise.revision and the triggers that raised it: workers no longer keep copies of
exercise definitions, so nothing reads it. Reversing restores both from 0003."""

from importlib import import_module

from django.db import migrations

revision = import_module("lessons.migrations.0003_exercise_revision")


class Migration(migrations.Migration):
    dependencies = [
        ("lessons", "0003_exercise_revision"),
        ("sandbox", "0004_claim_order_index"),
    ]

    operations = [
        migrations.RunPython(revision.drop_triggers, revision.create_triggers),
        migrations.RemoveField(model_name="exercise", name="revision"),
    ]
