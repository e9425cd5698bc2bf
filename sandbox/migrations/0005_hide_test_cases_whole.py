from django.db import migrations
from django.db.models import Exists, OuterRef


def hide_cases_whole(apps, schema_editor):
    """A test case is hidden or shown as one, by its verdict; samples of one case were hidden
    by their own pass, so a diff of a shown sample showed a hidden case's output."""
    Run = apps.get_model("sandbox", "Run")
    hidden_sibling = Run.objects.filter(
        attempt_id=OuterRef("attempt_id"), case_name=OuterRef("case_name"), hidden=True
    )
    Run.objects.filter(Exists(hidden_sibling), hidden=False).update(hidden=True)


class Migration(migrations.Migration):
    dependencies = [
        ("sandbox", "0004_claim_order_index"),
    ]

    operations = [
        migrations.RunPython(hide_cases_whole, migrations.RunPython.noop),
    ]
