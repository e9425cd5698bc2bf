"""graders.reuse: the fingerprints under which judge verdicts are stored and reused."""

from __future__ import annotations

from graders import load_rubric


def test_issue_16s_defaults_leave_stored_judge_definitions_as_they_were():
    """Pinned before exact match and one-field prompt criteria came in: a changed definition
    would make every regrade ask these judges again."""
    judge = {"id": "j", "kind": "llm_judge", "params": {"model": "stub:judge", "items": ["Polite"]}}
    greets = {"id": "e", "kind": "contains", "params": {"text": "hi"}}
    mixed = {"id": "m", "kind": "all_of", "params": {"criteria": [greets, judge]}}
    rubric = load_rubric({"criteria": [judge, mixed]})
    assert {k: v.definition[:16] for k, v in rubric.model_criteria.items()} == {
        "j": "9b290b709e72df54",
        "m": "3e352f97eecdefc9",
    }
