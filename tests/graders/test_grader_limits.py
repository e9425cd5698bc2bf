"""The graders' caps are read when they run, so configure() changes them everywhere."""

from __future__ import annotations

import pytest

from graders import limits
from graders.structure import parse_json
from graders.text import check_pattern


@pytest.fixture(autouse=True)
def defaults():
    yield
    limits.configure(**limits.DEFAULTS)


def test_a_configured_depth_is_the_cap_parse_json_reads():
    three_deep = "[[[1]]]"
    assert parse_json(three_deep)[1] == ""
    limits.configure(MAX_JSON_DEPTH=2)
    assert parse_json(three_deep) == (None, "nested deeper than 2 levels")


def test_a_configured_pattern_length_is_the_cap_a_rubric_is_checked_against():
    check_pattern({"pattern": "a" * 30})
    limits.configure(MAX_PATTERN_CHARS=20)
    with pytest.raises(ValueError, match="longer than 20 characters"):
        check_pattern({"pattern": "a" * 30})


def test_it_refuses_an_unknown_cap_and_one_past_its_ceiling():
    with pytest.raises(ValueError, match="MAX_JSON_DEPT is not a grader cap"):
        limits.configure(MAX_JSON_DEPT=5)
    with pytest.raises(ValueError, match="MAX_JSON_DEPTH must be .* at most 200, not 100000"):
        limits.configure(MAX_JSON_DEPTH=100_000)
    with pytest.raises(ValueError, match="MAX_OUTPUT_CHARS must be a whole number at least 1"):
        limits.configure(MAX_OUTPUT_CHARS=0)
    assert limits.MAX_JSON_DEPTH == 100 and limits.MAX_OUTPUT_CHARS == 200_000


def test_the_ceilings_keep_a_deep_output_from_raising_recursion_error():
    limits.configure(MAX_JSON_DEPTH=limits.CEILINGS["MAX_JSON_DEPTH"])
    assert parse_json("[" * 100_000)[1] == "nested deeper than 200 levels"
