from django.db import migrations, models
from django.utils import timezone

UNDER_WAY = ("queued", "running")


def stop_regrades_under_way(apps, schema_editor):
    """A regrade under way went on at an offset into attempts ordered otherwise: from here it
    would start over and count its attempts twice. Stop it, saying why."""
    Regrade = apps.get_model("lessons", "Regrade")
    Regrade.objects.filter(status__in=UNDER_WAY, done__gt=0).update(
        status="error",
        error="The site was upgraded while it ran. Ask for the regrade again.",
        finished_at=timezone.now(),
    )


class Migration(migrations.Migration):
    dependencies = [
        ("lessons", "0015_exact_match_strip"),
    ]

    operations = [
        migrations.AddField(
            model_name="regrade",
            name="after",
            field=models.UUIDField(blank=True, null=True),
        ),
        migrations.RunPython(stop_regrades_under_way, migrations.RunPython.noop),
    ]
