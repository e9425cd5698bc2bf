"""Migration 0018 drops the empty fixed inputs the cases page saved into every case, so the
text every case shares reaches the prompt again."""

from __future__ import annotations

from importlib import import_module

from django.apps import apps

from lessons.models import Case
from tests.conftest import make_exercise

migration = import_module("lessons.migrations.0018_cases_drop_fixed_inputs")


def test_cases_lose_the_fixed_inputs_they_hid(db):
    exercise = make_exercise(
        variables=["name", "tone"],
        fixed_variables={"tone": "warm"},
        starter_user="Talk {tone} to {name}.",
        cases=[{"name": "Ada", "variables": {"name": "Ada", "tone": ""}}],
    )
    untouched = make_exercise(slug="other", cases=[{"name": "Bo", "variables": {"name": "Bo"}}])
    migration.drop_fixed_inputs(apps, None)
    assert Case.objects.get(exercise=exercise).variables == {"name": "Ada"}
    assert exercise.case_variables(exercise.cases.get())["tone"] == "warm"
    assert Case.objects.get(exercise=untouched).variables == {"name": "Bo"}
