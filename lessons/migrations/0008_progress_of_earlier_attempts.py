"""Build the Progress rows of attempts graded before progress was kept (with the historical
models and the one rule, lessons.review.progress.summarize). The review queue starts with
the attempts graded from now on."""

from collections import defaultdict
from decimal import Decimal

from django.db import migrations
from django.db.models import Sum


def build_progress(apps, schema_editor):
    from lessons.review.progress import GradedAttempt, Usage, run_result, summarize

    Attempt = apps.get_model("sandbox", "Attempt")
    Run = apps.get_model("sandbox", "Run")
    UsageRecord = apps.get_model("sandbox", "UsageRecord")
    Progress = apps.get_model("lessons", "Progress")
    graded = Attempt.objects.filter(status="graded", is_reference=False, exercise__isnull=False)
    pairs = graded.values_list("learner_id", "exercise_id").distinct().order_by()
    for learner_id, exercise_id in pairs.iterator():
        attempts = graded.filter(learner_id=learner_id, exercise_id=exercise_id)
        runs = defaultdict(list)
        for attempt_id, case_id, passed, criteria in Run.objects.filter(
            attempt__in=attempts
        ).values_list("attempt_id", "case_id", "passed", "criteria"):
            runs[attempt_id].append(run_result(case_id, passed, criteria))
        summary = [
            GradedAttempt(str(pk), created_at, score or 0.0, bool(passed), runs[pk])
            for pk, created_at, score, passed in attempts.order_by("created_at", "id").values_list(
                "pk", "created_at", "score", "passed"
            )
        ]
        spent = UsageRecord.objects.filter(attempt__in=attempts).aggregate(
            input_tokens=Sum("input_tokens"),
            output_tokens=Sum("output_tokens"),
            cost_usd=Sum("cost_usd"),
        )
        usage = Usage(
            spent["input_tokens"] or 0, spent["output_tokens"] or 0, spent["cost_usd"] or Decimal(0)
        )
        Progress.objects.create(
            learner_id=learner_id, exercise_id=exercise_id, **summarize(summary, usage)
        )


class Migration(migrations.Migration):
    dependencies = [
        ("lessons", "0007_review"),
        ("sandbox", "0004_claim_order_index"),
    ]

    operations = [migrations.RunPython(build_progress, migrations.RunPython.noop)]
