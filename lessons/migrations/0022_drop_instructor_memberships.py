"""A course's own instructors are never members of its cohorts, but someone made an
instructor after joining one kept their membership (and so showed in its gradebook,
statistics and CSVs). Take them out; their attempts and progress stay."""

from django.db import migrations
from django.db.models import F


def drop_instructor_memberships(apps, schema_editor):
    Membership = apps.get_model("lessons", "Membership")
    Membership.objects.filter(cohort__course__instructors=F("learner")).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("lessons", "0021_regrade_definition"),
    ]

    operations = [migrations.RunPython(drop_instructor_memberships, migrations.RunPython.noop)]
