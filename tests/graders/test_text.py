from __future__ import annotations

import time

import pytest
import re2
from grader_helpers import criterion, grade_one

from graders import CRITERIA, Case, RubricError, load_rubric
from graders.text import measure


def test_contains_and_not_contains():
    assert grade_one("contains", "a refund is due", {"text": "refund"}).passed
    assert not grade_one("contains", "a Refund is due", {"text": "refund"}).passed
    assert grade_one("contains", "a Refund is due", {"text": "refund"}, ignore_case=True).passed
    result = grade_one("not_contains", "we guarantee it", {"text": "guarantee"})
    assert not result.passed and 'found "we guarantee it"' in result.detail


def test_contains_any_and_all():
    assert grade_one("contains_any", "money back", {"texts": ["refund", "money back"]}).passed
    assert not grade_one("contains_any", "nothing", {"texts": ["refund", "money back"]}).passed
    result = grade_one("contains_all", "refund now", {"texts": ["refund", "today"]})
    assert not result.passed and 'missing "today"' in result.detail
    assert grade_one("contains_all", "refund today", {"texts": ["refund", "today"]}).passed


def test_exact_match_kinds_are_exact_unless_asked_to_strip():
    assert not grade_one("equals", "Michael Jordan\n", {"text": "Michael Jordan"}).passed
    assert grade_one("equals", "Michael Jordan\n", {"text": "Michael Jordan"}, strip=True).passed
    assert not grade_one("starts_with", " Dear", {"text": "Dear"}).passed
    assert not grade_one("ends_with", "Thanks?\n", {"text": "?"}).passed
    assert grade_one("ends_with", "Thanks?\n", {"text": "?"}, strip=True).passed
    assert not grade_one("length", "abc\n", {"unit": "characters", "max": 3}).passed
    assert grade_one("contains", " refund ", {"text": " refund"}).passed  # others still strip


def test_equals_with_normalisation_options():
    assert grade_one("equals", "  Paris \n", {"text": "Paris"}, strip=True).passed
    assert not grade_one("equals", "  Paris \n", {"text": "Paris"}).passed
    assert grade_one("equals", "PARIS", {"text": "paris"}, ignore_case=True).passed
    assert grade_one(
        "equals",
        "New   York\ncity",
        {"text": "new york city"},
        ignore_case=True,
        collapse_whitespace=True,
    ).passed
    assert grade_one("equals", "Paris, France", {"text": ["Paris", "Paris, France"]}).passed


def test_equals_excerpts_a_long_output_around_the_mismatch():
    expected = "x" * 500 + "A" + "y" * 500
    result = grade_one("equals", "x" * 500 + "B" + "y" * 500, {"text": expected})
    assert "character 501" in result.detail
    assert "…" in result.detail and "B" in result.detail
    assert len(result.detail) < 250


def test_starts_and_ends_with_including_last_character():
    assert grade_one("starts_with", "Dear Sam,", {"text": "Dear"}).passed
    assert grade_one("ends_with", "Is it?", {"text": "?"}).passed
    assert grade_one("ends_with", "Done.", {"text": [".", "!"]}).passed
    assert not grade_one("ends_with", "Done", {"text": [".", "!"]}).passed


def test_regex_uses_re2_and_honours_ignore_case():
    assert grade_one("regex", "order #12345", {"pattern": r"#\d{4,}"}).passed
    assert grade_one("regex", "MONEY BACK", {"pattern": "money.back"}, ignore_case=True).passed
    rubric = load_rubric({"criteria": [criterion("regex", {"pattern": "a+"})]})
    assert isinstance(rubric.criteria[0].compiled, re2._Regexp)


@pytest.mark.parametrize(
    ("pattern", "construct"),
    [
        (r"(\w)\1", "backreferences"),
        ("(?=x)", "lookaround"),
        ("(?<!x)y", "lookaround"),
        ("(?>a)", "atomic"),
        ("a++", "possessive"),
    ],
)
def test_regex_refuses_what_re2_cannot_compile_naming_the_construct(pattern, construct):
    with pytest.raises(RubricError) as e:
        load_rubric({"criteria": [criterion("regex", {"pattern": pattern})]})
    assert e.value.criterion == "c" and e.value.field == "params.pattern"
    assert construct in e.value.message
    assert f"RE2 cannot compile '{pattern}'" in e.value.message  # as written, not repr'd


def test_a_pathological_pattern_finishes_in_milliseconds():
    start = time.perf_counter()
    result = grade_one("regex", "a" * 100_000 + "!", {"pattern": "(a+)+$"})
    assert time.perf_counter() - start < 0.05
    assert not result.passed


def test_patterns_and_outputs_over_the_caps_fail_with_a_reason():
    with pytest.raises(RubricError, match="longer than"):
        load_rubric({"criteria": [criterion("regex", {"pattern": "a" * 3000})]})
    result = grade_one("contains", "a" * 300_000, {"text": "a"})
    assert not result.passed and "longer than" in result.detail
    assert not grade_one("contains", "a" * 300_000, {"text": "b"}, negate=True).passed


def test_one_of_labels_is_exact_after_normalisation():
    params = {"labels": ["positive", "negative"]}
    assert grade_one("one_of", " Positive\n", params, ignore_case=True).passed
    assert not grade_one("one_of", "positive.", params).passed
    assert not grade_one("one_of", "positive or negative", params).passed


def test_length_in_every_unit():
    assert measure("One. Two! Three", "sentences") == 3
    assert measure("a\n\n b\n", "lines") == 2
    assert grade_one("length", "abc", {"unit": "characters", "max": 3}).passed
    assert not grade_one("length", "one two three", {"unit": "words", "max": 2}).passed
    assert grade_one("length", "a\nb", {"unit": "lines", "min": 2}).passed
    result = grade_one("length", "One. Two.", {"unit": "sentences", "min": 3})
    assert result.detail == "expected at least 3 sentences, found 2"


def test_length_in_lines_counts_blank_lines_only_when_asked():
    poem = "one\n\ntwo\n\nthree"
    assert grade_one("length", poem, {"unit": "lines", "max": 3}).passed
    result = grade_one("length", poem, {"unit": "lines", "max": 3, "count_blank": True})
    assert not result.passed and result.detail == "expected at most 3 lines, found 5"
    assert grade_one(
        "length", "a\nb\n\n", {"unit": "lines", "max": 2, "count_blank": True}, strip=True
    ).passed


def test_regex_takes_its_pattern_from_the_case():
    params = {"pattern": {"from_case": "pattern"}}
    case = Case(name="order id", expected={"pattern": r"^ORD-\d{4}$"})
    assert grade_one("regex", "ORD-1234", params, case=case).passed
    assert not grade_one("regex", "ORD-12", params, case=case).passed
    bad = Case(name="lookahead", expected={"pattern": "(?=x)"})
    result = grade_one("regex", "x", params, case=bad)
    assert result.status == "error" and "test case 'lookahead'" in result.detail
    assert "lookaround" in result.detail


def test_length_validation():
    for params, field in [
        ({"unit": "pages", "max": 1}, "params.unit"),
        ({"unit": "words"}, "params.min"),
        ({"min": 5, "max": 2}, "params.min"),
        ({"max": -1}, "params.max"),
    ]:
        with pytest.raises(RubricError) as e:
            load_rubric({"criteria": [criterion("length", params)]})
        assert e.value.field == field


def test_word_count_keeps_working():
    assert grade_one("word_count", "one two", {"max": 2}).passed
    assert not grade_one("word_count", "one two three", {"max": 2}).passed


def test_forbidden_words_match_whole_words_and_phrases():
    params = {"words": ["class", "as an AI"]}
    assert grade_one("forbidden_words", "I classify it", params).passed
    result = grade_one("forbidden_words", "Well, As an AI I cannot", params, ignore_case=True)
    assert not result.passed and '"as an ai"' in result.detail


def test_negation_flips_a_text_kind():
    assert not grade_one("contains", "refund", {"text": "refund"}, negate=True).passed
    result = grade_one("contains", "none", {"text": "refund"}, negate=True)
    assert result.passed and result.detail.startswith("(negated)")


def test_per_case_expectations_serve_every_case():
    params = {"text": {"from_case": "label"}}
    assert grade_one("equals", "billing", params, case=Case(expected={"label": "billing"})).passed
    assert not grade_one(
        "equals", "billing", params, case=Case(expected={"label": "refund"})
    ).passed
    answers = {"labels": {"from_case": "answers"}}
    assert grade_one("one_of", "Paris", answers, case=Case(expected={"answers": "Paris"})).passed
    assert grade_one(
        "one_of",
        "paris, france",
        answers,
        ignore_case=True,
        case=Case(expected={"answers": ["Paris", "Paris, France"]}),
    ).passed


def test_a_missing_case_expectation_is_an_error_never_a_pass():
    result = grade_one(
        "equals", "x", {"text": {"from_case": "label"}}, negate=True, case=Case(name="t1")
    )
    assert not result.passed and result.status == "error"
    assert "t1" in result.detail and "'label'" in result.detail
    wrong_type = grade_one(
        "contains", "x", {"text": {"from_case": "n"}}, case=Case(expected={"n": 3})
    )
    assert wrong_type.status == "error"


def test_every_kind_is_registered_with_a_summary():
    for name, kind in CRITERIA.items():
        assert kind.summary.endswith(".") and kind.summary[0].isupper(), name
