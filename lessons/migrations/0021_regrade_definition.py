"""A regrade keeps the digest of the exercise it was asked for: an edit saved while it runs
stops it, instead of its attempts mixing the rubric before and after the edit."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("lessons", "0020_publish_check_deciding_until"),
    ]

    operations = [
        migrations.AddField(
            model_name="regrade",
            name="definition",
            field=models.CharField(blank=True, max_length=64),
        ),
    ]
