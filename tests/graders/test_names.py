"""Learners read each criterion by a name: its author's title, or one read from its kind and
params. Never its id."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from graders import CRITERIA, RubricError, load_rubric
from graders.names import NAMES, checks, criterion_name, criterion_names

STARTER = Path(__file__).resolve().parents[2] / "lessons/starter/prompt-fundamentals/exercises"


def name(kind: str, params: dict, **options) -> str:
    rubric = load_rubric({"criteria": [{"id": "x-1", "kind": kind, "params": params, **options}]})
    return criterion_name(rubric.criteria[0])


@pytest.mark.parametrize(
    ("kind", "params", "expected"),
    [
        ("contains", {"text": "refund"}, "Mentions “refund”"),
        ("contains", {"text": {"from_case": "answer"}}, "Mentions the expected text"),
        ("contains_any", {"texts": ["9am", "9 am"]}, "Mentions “9am” or “9 am”"),
        ("contains_all", {"texts": ["a", "b", "c", "d"]}, "Mentions “a”, “b”, “c” and …"),
        ("word_count", {"max": 60}, "At most 60 words"),
        ("length", {"unit": "characters", "min": 1}, "At least 1 character"),
        ("length", {"unit": "sentences", "min": 2, "max": 3}, "2 to 3 sentences"),
        ("json_schema", {"schema": {"type": "object"}}, "Valid JSON matching the schema"),
        ("uses_variables", {"variables": ["code"]}, "Your prompt uses {code}"),
        ("one_of", {"labels": ["billing", "refund"]}, "Answers with “billing” or “refund”"),
    ],
)
def test_a_name_is_read_from_kind_and_params(kind, params, expected):
    assert name(kind, params) == expected


def test_the_authors_title_wins():
    assert name("regex", {"pattern": "x"}, title="Keeps the code secret") == "Keeps the code secret"


def test_negated_and_prompt_criteria_say_so():
    assert name("contains", {"text": "sorry"}, negate=True) == "Not: mentions “sorry”"
    assert name("contains", {"text": "<ticket>"}, target="prompt") == (
        "Your prompt: mentions “<ticket>”"
    )
    assert name("contains", {"text": "You are"}, target="prompt", field="system") == (
        "Your system prompt: mentions “You are”"
    )


def test_a_group_names_its_parts_once():
    params = {
        "criteria": [
            {"kind": "contains", "params": {"text": "7Q4Z"}},
            {"kind": "regex", "params": {"pattern": "a"}},
            {"kind": "regex", "params": {"pattern": "b"}},
        ]
    }
    assert name("none_of", params) == "None of: mentions “7Q4Z”; matches the expected pattern"


def test_every_kind_has_a_name():
    assert set(NAMES) == set(CRITERIA)


def test_no_starter_criterion_is_named_by_its_id():
    for path in sorted(STARTER.glob("*.yaml")):
        rubric = load_rubric(yaml.safe_load(path.read_text())["rubric"])
        for cid, label in criterion_names(rubric).items():
            assert label and label != cid, (path.name, cid)


def test_hidden_criteria_are_not_listed():
    rubric = load_rubric(
        {
            "criteria": [
                {"id": "a", "kind": "valid_json"},
                {"id": "b", "kind": "markdown_table", "visible": False},
            ]
        }
    )
    assert checks(rubric) == ["Valid JSON"]


def test_a_title_must_be_short_text():
    with pytest.raises(RubricError, match="title"):
        load_rubric({"criteria": [{"id": "a", "kind": "valid_json", "title": ["x"]}]})


def test_words_changed_is_named_with_its_bound_and_field():
    assert name("words_changed", {"at_most": 2}, field="user") == (
        "At most 2 words changed in the user message"
    )
    assert name("words_changed", {"at_most": 1}) == "At most 1 word changed in your prompt"
