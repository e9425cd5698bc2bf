"""Exercise.revision: raised by database triggers on every change to an exercise or its
test cases, whatever path the change takes (migration 0003)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from lessons import authoring
from lessons.models import Case, Exercise
from tests.conftest import make_exercise
from tests.live import ROOT


def revision(exercise: Exercise) -> int:
    return Exercise.objects.values_list("revision", flat=True).get(pk=exercise.pk)


@pytest.fixture
def exercise(db) -> Exercise:
    return make_exercise()


def test_saving_an_exercise_raises_its_revision(exercise):
    before = revision(exercise)
    exercise.title = "Greet someone warmly"
    exercise.save()
    assert revision(exercise) == before + 1


def test_a_bulk_update_raises_the_revision_of_every_row_it_changes(exercise):
    other = make_exercise(slug="other")
    before = revision(exercise), revision(other)
    Exercise.objects.filter(pk__in=[exercise.pk, other.pk]).update(temperature=0.5)
    assert (revision(exercise), revision(other)) == (before[0] + 1, before[1] + 1)


def test_saving_a_stale_copy_still_raises_the_revision(exercise):
    stale = Exercise.objects.get(pk=exercise.pk)
    Case.objects.create(exercise=exercise, name="Grace", variables={"name": "Grace"})
    newer = revision(exercise)
    stale.save()  # writes its own, older, revision back
    assert revision(exercise) > newer


def test_every_change_to_a_test_case_raises_its_exercises_revision(exercise):
    steps = [
        lambda: Case.objects.create(exercise=exercise, name="Grace"),
        lambda: Case.objects.bulk_create([Case(exercise=exercise, name="Linus")]),
        lambda: Case.objects.filter(exercise=exercise).update(weight=2.0),
        lambda: Case.objects.filter(exercise=exercise, name="Grace").delete(),
    ]
    for step in steps:
        before = revision(exercise)
        step()
        assert revision(exercise) > before


def test_moving_a_test_case_raises_both_exercises(exercise):
    other = make_exercise(slug="other")
    case = exercise.cases.first()
    before = revision(exercise), revision(other)
    Case.objects.filter(pk=case.pk).update(exercise=other)
    assert revision(exercise) > before[0] and revision(other) > before[1]


def test_a_fresh_sqlite_database_has_the_triggers(tmp_path):
    # Django rebuilds a SQLite table to alter it, which drops its triggers: a later
    # migration of Exercise or Case must create them again, or this fails.
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=ROOT,
        env={
            **{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")},
            "SANDBOX_DATA_DIR": str(tmp_path),
        },
        check=True,
    )
    with sqlite3.connect(tmp_path / "db.sqlite3") as db:
        rows = db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        triggers = {name for (name,) in rows}
    assert triggers == {
        "lessons_exercise_revision",
        "lessons_case_revision_insert",
        "lessons_case_revision_update",
        "lessons_case_revision_delete",
    }


on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SQLite writes one transaction at a time"
)


def first_lock(queries: CaptureQueriesContext) -> str:
    """Return the first statement that locks a row: a SELECT … FOR UPDATE, or a write to a
    test case."""
    writes = ("UPDATE", "INSERT", "DELETE")
    return next(
        q["sql"]
        for q in queries
        if "FOR UPDATE" in q["sql"] or (q["sql"].startswith(writes) and "lessons_case" in q["sql"])
    )


@on_postgresql
def test_editing_cases_locks_the_exercise_before_any_case(ines_client, instructor):
    exercise = make_exercise(status=Exercise.DRAFT, cases=[{"name": "Ada"}])
    (ada,) = exercise.cases.all()
    with CaptureQueriesContext(connection) as queries:
        ines_client.post(
            f"/teach/exercises/{exercise.id}/cases/",
            {
                "cases-TOTAL_FORMS": "1",
                "cases-INITIAL_FORMS": "1",
                "cases-MIN_NUM_FORMS": "0",
                "cases-MAX_NUM_FORMS": "1000",
                "cases-0-id": str(ada.pk),
                "cases-0-name": "Ada L.",
                "cases-0-visibility": "show",
                "cases-0-weight": "1",
            },
        )
    assert exercise.cases.get().name == "Ada L."
    assert first_lock(queries).startswith('SELECT "lessons_exercise"."id"')
    assert "FOR UPDATE" in first_lock(queries)


@on_postgresql
def test_importing_cases_locks_the_exercise_before_any_case(exercise):
    imported = authoring.parse_cases_csv("name\nGrace\n", ["name"])
    with CaptureQueriesContext(connection) as queries:
        authoring.save_imported_cases(exercise, imported, replace=True)
    assert list(exercise.cases.values_list("variables", flat=True)) == [{"name": "Grace"}]
    assert first_lock(queries).startswith('SELECT "lessons_exercise"."id"')
    assert "FOR UPDATE" in first_lock(queries)
