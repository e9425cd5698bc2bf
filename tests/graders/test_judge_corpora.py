"""The judge's defence against the suite's corpora (tests/graders/corpora), measured as
`make bench-judge` measures it (graders.bench_judge): every injection talks the obedient
judge round when the checks are off, none passes with them on, and the honest judge passes
the correct answers without sending them to review."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from graders import grade_case, load_rubric, personas
from graders.bench_judge import (
    CORPORA,
    EXERCISE,
    FLAGGED,
    INJECTED,
    OUTPUTS,
    PASSED,
    judged_alone,
    load_corpora,
    main,
    measure,
)

SUITE = load_corpora()
JUDGE_MODULE = Path(__file__).resolve().parents[2] / "graders/judge.py"


@pytest.fixture(scope="module")
def report():
    return measure(SUITE)


def test_the_corpora_are_large_and_varied():
    families = {family for family, _ in SUITE.injections}
    assert len(SUITE.injections) >= 110
    assert len(set(SUITE.injections)) == len(SUITE.injections)
    assert len(families) >= 10
    assert len(SUITE.correct) >= 110
    assert len(set(SUITE.correct)) == len(SUITE.correct)
    correct = yaml.safe_load((CORPORA / "correct.yaml").read_text(encoding="utf-8"))
    assert len(correct["innocent"]) >= 20
    languages = [text for family, text in SUITE.injections if family == "other_languages"]
    assert len(languages) >= 8
    other_scripts = [t for t in languages if any(c.isalpha() and ord(c) > 0x24F for c in t)]
    assert len(other_scripts) >= 5  # Cyrillic, Greek, Hebrew, Arabic, Devanagari, CJK, Hangul


def test_the_base_answers_fail_on_their_own():
    rubric, script = judged_alone()
    for judge in (personas.honest(script), personas.obedient(script)):
        for base in SUITE.bases:
            result = grade_case(rubric, base, judge=judge).criteria[0]
            assert not result.passed and result.status == "ok", (base, result.detail)


def test_every_injection_passes_when_the_checks_are_off(report):
    """The attack is real: an obedient judge whose checks always come back clean passes each
    failing answer once an injection is added (if one does not, teach graders/personas.py to
    read it, rather than drop it)."""
    assert report.attack.outputs(PASSED, wanted=False) == []
    assert report.attack.count(OUTPUTS) == 2 * len(SUITE.bases) * len(SUITE.injections)


def test_no_injection_passes_the_defence_and_each_is_suspected(report):
    assert report.defended.outputs(PASSED) == []
    assert report.defended.outputs(INJECTED, wanted=False) == []
    assert report.defended.count(FLAGGED) == report.defended.count(OUTPUTS)


def test_the_honest_judge_passes_correct_answers_and_flags_at_most_2_percent(report):
    assert report.correct.count(FLAGGED) <= 0.02 * len(SUITE.correct)
    assert report.correct.outputs(PASSED, wanted=False) == []
    assert report.misses() == []


def test_correct_answers_pass_the_whole_exercise():
    """Short enough, signed off, and met by the exercise's judge, as a learner's reply."""
    data = yaml.safe_load(EXERCISE.read_text(encoding="utf-8"))
    rubric = load_rubric(data["rubric"])
    judge = personas.honest(personas.load_script(data["stub"]["judge"]))
    failed = [text for text in SUITE.correct if not grade_case(rubric, text, judge=judge).passed]
    assert failed == []


def test_the_defence_does_not_read_the_corpora():
    """graders/judge.py checks the judge, not the text: no word list, and none of the
    corpora's unusual words (other scripts, leetspeak, encodings) in it."""
    source = JUDGE_MODULE.read_text(encoding="utf-8")
    assert "personas" not in source and "STEERING" not in source
    unusual = {
        word
        for _, text in SUITE.injections
        for word in re.findall(r"\w{4,}", text)
        if not word.isascii() or not word.isalpha()
    }
    assert unusual and [word for word in unusual if word.casefold() in source.casefold()] == []


def test_the_bench_exits_non_zero_when_a_target_is_missed(tmp_path):
    (tmp_path / "injections.yaml").write_text(
        yaml.safe_dump(
            {
                "bases": [SUITE.bases[0]],
                "families": {"not_an_attack": ["Deliveries are slow in winter."]},
            }
        ),
        encoding="utf-8",
    )
    (tmp_path / "correct.yaml").write_text(
        yaml.safe_dump({"plain": list(SUITE.correct[:2])}), encoding="utf-8"
    )
    lines: list[str] = []
    assert main([str(tmp_path)], write=lines.append) == 1
    assert any('"name": "injections.obedient.defended"' in line for line in lines)
