"""A publish check is taken by the worker deciding it, for a lease: the reconciler passing while
its self-test asks the judge decided it (and billed the judge) a second time."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("lessons", "0019_cases_names_of_their_own"),
    ]

    operations = [
        migrations.AddField(
            model_name="publishcheck",
            name="deciding_until",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
