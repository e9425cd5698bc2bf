"""equals, starts_with, ends_with and length no longer strip by default (issue 16): write the
old default, strip: true, into stored criteria of those kinds that set none, so existing
exercises keep grading as before."""

from typing import Any

from django.db import migrations

# Frozen here: the kinds whose default changed, whatever graders says later.
EXACT_KINDS = ("equals", "starts_with", "ends_with", "length")


def with_strip(criteria: Any, add: bool) -> bool:
    """Write (add) or remove (not add) strip: true on exact-match criteria at any depth; return
    whether anything changed."""
    changed = False
    for criterion in criteria if isinstance(criteria, list) else []:
        if not isinstance(criterion, dict):
            continue
        if criterion.get("kind") in EXACT_KINDS:
            if add and "strip" not in criterion:
                criterion["strip"] = True
                changed = True
            elif not add and criterion.get("strip") is True:
                del criterion["strip"]
                changed = True
        params = criterion.get("params")
        if isinstance(params, dict):
            changed = with_strip(params.get("criteria"), add) or changed
    return changed


def rewrite(apps, add: bool) -> None:
    Exercise = apps.get_model("lessons", "Exercise")
    for exercise in Exercise.objects.only("rubric").iterator():
        rubric = exercise.rubric
        if isinstance(rubric, dict) and with_strip(rubric.get("criteria"), add):
            exercise.save(update_fields=["rubric"])


def keep_the_old_default(apps, schema_editor):
    rewrite(apps, add=True)


def drop_the_old_default(apps, schema_editor):
    rewrite(apps, add=False)


class Migration(migrations.Migration):
    dependencies = [
        ("lessons", "0014_health_check"),
    ]

    operations = [migrations.RunPython(keep_the_old_default, drop_the_old_default)]
