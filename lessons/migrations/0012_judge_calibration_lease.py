"""Judge calibrations run as regrades do (lessons.authoring.jobs): queued until a worker
claims one with a lease, published again by the reconciler when its message or worker is
lost. Rows left running have no lease, which counts as expired; the lease replaces
`updated_at`, the worker's last progress."""

import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("lessons", "0011_judge_calibration"),
    ]

    operations = [
        migrations.AlterField(
            model_name="judgecalibration",
            name="status",
            field=models.CharField(
                choices=[
                    ("queued", "Queued"),
                    ("running", "Running"),
                    ("done", "Done"),
                    ("error", "Error"),
                ],
                default="queued",
                max_length=10,
            ),
        ),
        migrations.AddField(
            model_name="judgecalibration",
            name="published_at",
            field=models.DateTimeField(default=django.utils.timezone.now),
        ),
        migrations.AddField(
            model_name="judgecalibration",
            name="started_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="judgecalibration",
            name="lease_expires_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="judgecalibration",
            name="deliveries",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.RemoveField(model_name="judgecalibration", name="updated_at"),
    ]
