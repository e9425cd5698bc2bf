"""An exercise's sample rule: the model's validation, the migration from require_all_samples,
and the course files' sample_rule and samples_needed (and the old key)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from lessons.authoring.coursefiles import Reader, Source, read_exercise
from tests.conftest import make_exercise


def test_an_exercise_knows_its_rule(db):
    exercise = make_exercise(samples=5, sample_rule="at_least", samples_needed=4)
    assert exercise.parsed_sample_rule.describe(5) == "needs 4 of 5"
    exercise.full_clean()


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        (
            {"samples": 3, "sample_rule": "at_least", "samples_needed": 4},
            {"samples_needed": ["must be from 1 to 3 (the samples per case), not 4"]},
        ),
        (
            {"samples": 3, "sample_rule": "all", "samples_needed": 2},
            {"samples_needed": ["is for sample_rule at_least only"]},
        ),
    ],
)
def test_a_rule_that_cannot_apply_fails_validation_on_its_field(db, fields, errors):
    exercise = make_exercise(**fields)
    with pytest.raises(ValidationError) as raised:
        exercise.full_clean()
    assert raised.value.message_dict == errors


@pytest.mark.django_db(transaction=True)
def test_the_migration_turns_require_all_samples_into_the_all_rule():
    executor = MigrationExecutor(connection)
    executor.migrate([("lessons", "0009_decision_exercise")])
    try:
        old = executor.loader.project_state([("lessons", "0009_decision_exercise")]).apps
        lesson = old.get_model("lessons", "Lesson").objects.create(
            course=old.get_model("lessons", "Course").objects.create(slug="c", title="C"),
            slug="l",
            title="L",
        )
        exercises = old.get_model("lessons", "Exercise").objects
        for slug, every in (("strict", True), ("lenient", False)):
            exercises.create(
                lesson=lesson, slug=slug, title=slug, rubric={}, require_all_samples=every
            )
        executor.loader.build_graph()
        executor.migrate([("lessons", "0010_sample_rule")])
        new = executor.loader.project_state([("lessons", "0010_sample_rule")]).apps
        rules = dict(
            new.get_model("lessons", "Exercise").objects.values_list("slug", "sample_rule")
        )
        needed = set(new.get_model("lessons", "Exercise").objects.values_list("samples_needed"))
    finally:
        # Back to the latest schema: later tests (and live servers) share this database.
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())
    assert rules == {"strict": "all", "lenient": "mean"}
    assert needed == {(0,)}


CASES = "cases: [{name: One}]\nrubric: {criteria: [{id: x, kind: valid_json}]}\n"


def read(tmp_path: Path, model: str) -> tuple[dict, list[str]]:
    """Read one exercise file whose model mapping is `model`: its fields and problems."""
    path = tmp_path / "x.yaml"
    path.write_text(f"slug: x\ntitle: X\n{CASES}model:\n{model}")
    reader = Reader(tmp_path)
    data = reader.read_yaml(path)
    assert data is not None
    exercise = read_exercise(Source(reader, path, data))
    return exercise, [str(p) for p in reader.problems]


def test_a_file_gives_the_rule_and_how_many_must_pass(tmp_path):
    exercise, problems = read(
        tmp_path, "  samples: 5\n  sample_rule: at_least\n  samples_needed: 4\n"
    )
    assert problems == []
    assert (exercise["sample_rule"], exercise["samples_needed"]) == ("at_least", 4)


def test_a_file_without_a_rule_takes_the_mean(tmp_path):
    exercise, problems = read(tmp_path, "  samples: 3\n")
    assert problems == []
    assert (exercise["sample_rule"], exercise["samples_needed"]) == ("mean", 0)


@pytest.mark.parametrize(("flag", "rule"), [("true", "all"), ("false", "mean")])
def test_an_older_files_require_all_samples_reads_as_a_rule(tmp_path, flag, rule):
    exercise, problems = read(tmp_path, f"  samples: 3\n  require_all_samples: {flag}\n")
    assert problems == []
    assert exercise["sample_rule"] == rule


@pytest.mark.parametrize(
    ("model", "problem"),
    [
        (
            "  samples: 3\n  sample_rule: most\n",
            "x.yaml:7: model.sample_rule: must be one of mean, all, at_least, any, not 'most'",
        ),
        (
            "  samples: 3\n  sample_rule: at_least\n  samples_needed: 4\n",
            "x.yaml:8: model.samples_needed: must be from 1 to 3 (the samples per case), not 4",
        ),
        (
            "  samples: 3\n  sample_rule: at_least\n",
            "x.yaml:5: model.samples_needed: must be from 1 to 3 (the samples per case), not 0",
        ),
        (
            "  samples: 3\n  samples_needed: 2\n",
            "x.yaml:7: model.samples_needed: is for sample_rule at_least only",
        ),
        (
            "  sample_rule: all\n  require_all_samples: true\n",
            "x.yaml:7: model.require_all_samples: give sample_rule only (true is all)",
        ),
    ],
)
def test_a_rule_that_cannot_apply_is_reported_at_its_line(tmp_path, model, problem):
    _, problems = read(tmp_path, model)
    assert problems == [f"{tmp_path.name}/{problem}"]
