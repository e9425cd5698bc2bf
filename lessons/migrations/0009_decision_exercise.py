"""Decisions name their exercise, so the statistics page reads an exercise's labels by index
instead of every label of the course through its runs and attempts."""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def fill_exercise(apps, schema_editor):
    Decision = apps.get_model("lessons", "Decision")
    Run = apps.get_model("sandbox", "Run")
    exercise = Run.objects.filter(pk=OuterRef("run_id")).values("attempt__exercise_id")[:1]
    Decision.objects.update(exercise_id=Subquery(exercise))


class Migration(migrations.Migration):
    dependencies = [
        ("lessons", "0008_progress_of_earlier_attempts"),
    ]

    operations = [
        migrations.AddField(
            model_name="decision",
            name="exercise",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="lessons.exercise",
            ),
        ),
        migrations.RunPython(fill_exercise, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="decision",
            name="exercise",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="lessons.exercise",
            ),
        ),
        migrations.AddIndex(
            model_name="decision",
            index=models.Index(fields=["exercise", "criterion_id"], name="decision_labels"),
        ),
    ]
