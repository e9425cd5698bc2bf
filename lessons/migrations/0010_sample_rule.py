"""An exercise's samples are made a case's grade by a rule (mean, all, at least n, any)
instead of the require_all_samples flag: true becomes "all", false the default "mean"."""

from django.db import migrations, models


def from_flag(apps, schema_editor):
    Exercise = apps.get_model("lessons", "Exercise")
    Exercise.objects.filter(require_all_samples=True).update(sample_rule="all")


def to_flag(apps, schema_editor):
    # "at_least" and "any" have no flag: they go back as the mean.
    Exercise = apps.get_model("lessons", "Exercise")
    Exercise.objects.filter(sample_rule="all").update(require_all_samples=True)


class Migration(migrations.Migration):
    dependencies = [
        ("lessons", "0009_decision_exercise"),
    ]

    operations = [
        migrations.AddField(
            model_name="exercise",
            name="sample_rule",
            field=models.CharField(
                choices=[
                    ("mean", "when the mean score of its samples reaches the pass threshold"),
                    ("all", "only if every sample passes (pass^k)"),
                    ("at_least", "if at least n of its k samples pass"),
                    ("any", "if any one sample passes (pass@k)"),
                ],
                default="mean",
                max_length=10,
                verbose_name="A case passes",
            ),
        ),
        migrations.AddField(
            model_name="exercise",
            name="samples_needed",
            field=models.PositiveSmallIntegerField(
                default=0, help_text="With “at least n of k”: n, from 1 to the samples per case."
            ),
        ),
        migrations.RunPython(from_flag, to_flag),
        migrations.RemoveField(model_name="exercise", name="require_all_samples"),
    ]
