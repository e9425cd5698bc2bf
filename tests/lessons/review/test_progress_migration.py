"""Migration 0008 builds the progress of attempts graded before progress was kept."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from lessons.review.models import Progress
from sandbox.models import Attempt
from tests.conftest import make_attempt, make_exercise, make_run


@pytest.mark.django_db(transaction=True)
def test_earlier_graded_attempts_get_their_progress(learner):
    exercise = make_exercise()
    failed = make_attempt(learner, exercise, status=Attempt.GRADED, score=0.5, passed=False)
    make_run(failed, case=exercise.cases.get(), passed=False, criteria=[{"id": "greets"}])
    make_attempt(learner, exercise, status=Attempt.GRADED, score=1.0, passed=True)
    make_attempt(learner, exercise, status=Attempt.ERROR)
    Progress.objects.all().delete()

    executor = MigrationExecutor(connection)
    executor.migrate([("lessons", "0007_review")])
    try:
        executor.loader.build_graph()
        executor.migrate([("lessons", "0008_progress_of_earlier_attempts")])
        built = list(
            Progress.objects.values(
                "learner",
                "exercise",
                "attempts",
                "best_score",
                "passed",
                "attempts_to_pass",
                "failure_groups",
            )
        )
    finally:
        # Back to the latest schema: later tests (and live servers) share this database.
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())

    (row,) = built
    assert (row["learner"], row["exercise"]) == (learner.pk, exercise.pk)
    assert (row["attempts"], row["best_score"], row["passed"], row["attempts_to_pass"]) == (
        2,
        1.0,
        True,
        2,
    )
    assert row["failure_groups"] == [
        {"criteria": ["greets"], "count": 1, "attempt": str(failed.pk)}
    ]
