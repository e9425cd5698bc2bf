"""Every kind says on one line what it normalises; the docs and the rubric editor show it."""

from __future__ import annotations

from pathlib import Path

from graders import CRITERIA

DOC = (Path(__file__).resolve().parents[2] / "docs" / "graders.md").read_text()


def test_every_kind_says_what_it_normalises_on_one_line():
    for name, kind in CRITERIA.items():
        line = kind.normalisation()
        assert kind.normalises and "\n" not in line and line.startswith("Normalises: "), name


def test_the_line_says_whether_the_kind_trims_by_default():
    assert "exact, trims nothing (strip: true" in CRITERIA["equals"].normalisation()
    assert "trims whitespace at both ends (strip: false" in CRITERIA["contains"].normalisation()
    assert "count_blank: true" in CRITERIA["length"].normalisation()
    assert "strip" not in CRITERIA["llm_judge"].normalisation()


def test_docs_show_each_kinds_line_as_the_editor_does():
    missing = [name for name, kind in CRITERIA.items() if kind.normalisation() not in DOC]
    assert missing == []
