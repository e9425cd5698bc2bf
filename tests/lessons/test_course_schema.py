"""docs/course-format.schema.json: the JSON Schema editors use for course files."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

import graders
from lessons.authoring import coursefiles
from sandbox.backends import BACKENDS
from tests.conftest import STARTER

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "docs" / "course-format.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
STARTER_FILES = sorted(p.relative_to(STARTER).as_posix() for p in STARTER.rglob("*.yaml"))


def problems(data) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in VALIDATOR.iter_errors(data)
    ]


def test_the_schema_is_a_valid_draft_2020_12_schema():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def test_the_schema_names_each_key_once():
    """A key written twice is read as its last copy: an edit to the first would do nothing."""

    def unique(pairs):
        keys = [key for key, _ in pairs]
        assert len(keys) == len(set(keys)), f"keys written twice: {keys}"
        return dict(pairs)

    json.loads((ROOT / "docs" / "course-format.schema.json").read_text(), object_pairs_hook=unique)


@pytest.mark.parametrize("name", STARTER_FILES)
def test_every_starter_file_matches_the_schema(name):
    assert problems(yaml.safe_load((STARTER / name).read_text())) == []


@pytest.mark.parametrize("name", STARTER_FILES)
def test_every_starter_file_names_the_schema_for_editors(name):
    first = (STARTER / name).read_text().splitlines()[0]
    assert first.startswith("# yaml-language-server: $schema=")
    target = (STARTER / name).parent / first.split("=", 1)[1]
    assert target.resolve() == ROOT / "docs" / "course-format.schema.json"


def test_a_misspelt_field_fails_the_schema():
    data = yaml.safe_load((STARTER / "exercises" / "tagline.yaml").read_text())
    data["cases"][0]["visiblity"] = "hide"
    assert any("visiblity" in p for p in problems(data))


def test_an_unknown_kind_and_a_bad_visibility_fail_the_schema():
    data = yaml.safe_load((STARTER / "exercises" / "tagline.yaml").read_text())
    data["rubric"]["criteria"][0]["kind"] = "wordcount"
    data["cases"][0]["visibility"] = "secret"
    found = problems(data)
    assert any(p.startswith("rubric/criteria/0/kind") for p in found)
    assert any(p.startswith("cases/0/visibility") for p in found)


def test_a_course_without_a_title_fails_the_schema():
    data = yaml.safe_load((STARTER / "course.yaml").read_text())
    del data["title"]
    assert problems(data) == [": 'title' is a required property"]


def test_the_schema_lists_what_the_code_accepts():
    defs = SCHEMA["$defs"]
    assert defs["criterion"]["properties"]["kind"]["enum"] == sorted(graders.CRITERIA)
    assert defs["exercise"]["properties"]["model"]["properties"]["backend"]["enum"] == list(
        BACKENDS
    )
    assert list(defs["course"]["properties"]) == list(coursefiles.COURSE_KEYS)
    assert list(defs["lesson"]["properties"]) == list(coursefiles.LESSON_KEYS)
    exercise = defs["exercise"]["properties"]
    assert list(exercise) == list(coursefiles.EXERCISE_KEYS)
    assert list(exercise["prompt"]["properties"]) == list(coursefiles.PROMPT_KEYS)
    model = exercise["model"]["properties"]
    assert list(model) == [*coursefiles.MODEL_KEYS, coursefiles.OLD_SAMPLE_KEY]
    assert model["sample_rule"]["enum"] == list(graders.SAMPLE_RULES)
    assert list(exercise["cases"]["items"]["properties"]) == list(coursefiles.CASE_KEYS)
    assert list(defs["rubric"]["properties"]) == sorted(
        graders.rubric.RUBRIC_FIELDS, key=coursefiles.RUBRIC_ORDER.index
    )
    assert set(defs["criterion"]["properties"]) == graders.rubric.CRITERION_FIELDS


def doc_example(heading: str) -> dict:
    """Return the first ```yaml block after a heading of docs/course-format.md."""
    text = (ROOT / "docs" / "course-format.md").read_text().split(heading, 1)[1]
    return yaml.safe_load(text.split("```yaml\n", 1)[1].split("```", 1)[0])


def test_the_documented_course_yaml_matches_the_schema():
    assert problems(doc_example("## course.yaml")) == []


def test_the_documented_exercise_file_matches_the_schema_and_imports(tmp_path):
    data = doc_example("## An exercise file")
    assert problems(data) == []
    path = tmp_path / "classify.yaml"
    path.write_text(yaml.safe_dump(data))
    reader = coursefiles.Reader(tmp_path)
    exercise = coursefiles.read_exercise(coursefiles.Source(reader, path, reader.read_yaml(path)))
    assert reader.problems == []
    assert exercise["slots"][0]["name"] == "task"
