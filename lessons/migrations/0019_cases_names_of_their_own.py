"""The cases editor and the CSV import let two cases of one exercise share a name, which
import_course (finding a case by its name) then failed on. Later ones get a number."""

from django.db import migrations


def number_repeated_names(apps, schema_editor):
    Case = apps.get_model("lessons", "Case")
    seen: dict[int, set[str]] = {}
    for case in Case.objects.order_by("exercise_id", "position", "id").iterator():
        names = seen.setdefault(case.exercise_id, set())
        if case.name in names:
            number = 2
            while f"{case.name[:90]} ({number})" in names:
                number += 1
            case.name = f"{case.name[:90]} ({number})"
            case.save(update_fields=["name"])
        names.add(case.name)


class Migration(migrations.Migration):
    dependencies = [("lessons", "0018_cases_drop_fixed_inputs")]

    operations = [migrations.RunPython(number_repeated_names, migrations.RunPython.noop)]
