"""Cases saved on the cases page kept a value for each fixed input (empty, unless typed in),
which hid the text every case shares; a case also kept its value of a variable made fixed
later. A case gives no fixed input (course import refuses one, and the shared text now wins):
drop them all, since none is read any more."""

from django.db import migrations


def drop_fixed_inputs(apps, schema_editor):
    Exercise = apps.get_model("lessons", "Exercise")
    Case = apps.get_model("lessons", "Case")
    for exercise in Exercise.objects.exclude(fixed_variables={}).iterator():
        fixed = set(exercise.fixed_variables)
        for case in Case.objects.filter(exercise=exercise):
            kept = {k: v for k, v in case.variables.items() if k not in fixed}
            if kept != case.variables:
                case.variables = kept
                case.save(update_fields=["variables"])


class Migration(migrations.Migration):
    dependencies = [("lessons", "0017_publish_check_outlives_its_reference")]

    operations = [migrations.RunPython(drop_fixed_inputs, migrations.RunPython.noop)]
