"""Courses and lessons have a published state: learners see one only once published. The
rows there are become published (learners already see them); the field's default stays
published, and the teach editor creates drafts."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("lessons", "0012_judge_calibration_lease"),
    ]

    operations = [
        migrations.AddField(
            model_name="course",
            name="published",
            field=models.BooleanField(default=True),
        ),
        migrations.AddField(
            model_name="lesson",
            name="published",
            field=models.BooleanField(default=True),
        ),
    ]
