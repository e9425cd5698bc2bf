"""Migration 0019 numbers the later of two cases of one exercise that share a name, so that
the course's files import again (import_course finds a case by its name)."""

from __future__ import annotations

from importlib import import_module

from django.apps import apps

from tests.conftest import make_exercise

migration = import_module("lessons.migrations.0019_cases_names_of_their_own")


def test_repeated_case_names_are_numbered_in_their_order(db):
    names = ["Ada", "Ada", "Bo", "Ada", "Ada (2)"]
    exercise = make_exercise(cases=[{"name": n} for n in names])
    other = make_exercise(slug="other", cases=[{"name": "Ada"}])
    migration.number_repeated_names(apps, None)
    renamed = list(exercise.cases.order_by("position").values_list("name", flat=True))
    assert renamed == ["Ada", "Ada (2)", "Bo", "Ada (3)", "Ada (2) (2)"]
    assert other.cases.get().name == "Ada"
