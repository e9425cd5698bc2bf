"""Migration 0015 writes strip: true into stored exact-match criteria that relied on the old
default, so existing exercises grade as before; new ones are exact unless they ask."""

from __future__ import annotations

from importlib import import_module

from django.apps import apps

from lessons.models import Exercise
from tests.conftest import make_exercise

migration = import_module("lessons.migrations.0015_exact_match_strip")

RUBRIC = {
    "pass_threshold": 1.0,
    "criteria": [
        {"id": "name", "kind": "equals", "params": {"text": "Michael Jordan"}},
        {"id": "kept", "kind": "ends_with", "params": {"text": "?"}, "strip": False},
        {"id": "greets", "kind": "contains", "params": {"text": "hello"}},
        {
            "id": "tagged",
            "kind": "xml_tag",
            "params": {
                "tag": "answer",
                "criteria": [
                    {"id": "lines", "kind": "length", "params": {"unit": "lines", "max": 2}}
                ],
            },
        },
    ],
}


def test_stored_exact_match_criteria_keep_stripping_after_the_migration(db):
    exercise = make_exercise(rubric=RUBRIC)
    assert not exercise.parsed_rubric.criteria[0].strips  # exact now, without the migration
    migration.keep_the_old_default(apps, None)
    criteria = Exercise.objects.get(pk=exercise.pk).rubric["criteria"]
    assert criteria[0]["strip"] is True and criteria[1]["strip"] is False
    assert "strip" not in criteria[2]  # contains kept its default, which did not change
    assert criteria[3]["params"]["criteria"][0]["strip"] is True
    assert "strip" not in criteria[3]
    graded = Exercise.objects.get(pk=exercise.pk).parsed_rubric
    assert graded.criteria[0].strips and not graded.criteria[1].strips


def test_the_migration_reverses_to_the_implicit_default(db):
    exercise = make_exercise(rubric=RUBRIC)
    migration.keep_the_old_default(apps, None)
    migration.drop_the_old_default(apps, None)
    criteria = Exercise.objects.get(pk=exercise.pk).rubric["criteria"]
    assert "strip" not in criteria[0] and criteria[1]["strip"] is False
