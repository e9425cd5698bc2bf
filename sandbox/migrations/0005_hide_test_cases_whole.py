from django.db import migrations
from django.db.models import Exists, OuterRef


def hide_cases_whole(apps, schema_editor):
    """A test case is hidden or shown as one, by its verdict; samples of one case were hidden
    by their own pass, so a diff of a shown sample showed a hidden case's output."""
    Run = apps.get_model("sandbox", "Run")
    hidden = Run.objects.filter(attempt_id=OuterRef("attempt_id"), hidden=True)
    shown = Run.objects.filter(hidden=False)
    # A case by its row; one since deleted by its name (names need not be unique).
    of_case = hidden.filter(case_id=OuterRef("case_id"))
    shown.filter(Exists(of_case), case__isnull=False).update(hidden=True)
    of_deleted = hidden.filter(case__isnull=True, case_name=OuterRef("case_name"))
    shown.filter(Exists(of_deleted), case__isnull=True).update(hidden=True)


class Migration(migrations.Migration):
    dependencies = [
        ("sandbox", "0004_claim_order_index"),
    ]

    operations = [
        migrations.RunPython(hide_cases_whole, migrations.RunPython.noop),
    ]
