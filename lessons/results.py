"""An attempt's test cases as its result pages show them: its runs grouped by case, each case
passed or not by the exercise's sample rule, decided by graders.score_case as grading did."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import graders
from graders.results import worst_status
from lessons.models import Exercise
from sandbox.models import Run


def result_rows(samples: Iterable[Any], exercise: Exercise | None) -> list[dict]:
    """Group an attempt's runs by test case (a case has one run per sample). Each sample is a
    Run or a view of one (its `run`: lessons.review.drilldown.SampleView). A case of several
    samples says what its rule needs beside its pass count: "needs 4 of 5"."""
    rows: dict[str, dict] = {}
    # Read once for every case (a drill-down shows many attempts' cases).
    rubric = exercise.parsed_rubric if exercise else None
    rule = exercise.parsed_sample_rule if exercise else graders.SampleRule()
    for sample in samples:
        row = rows.setdefault(
            sample.case_name, {"name": sample.case_name, "number": len(rows) + 1, "runs": []}
        )
        row["runs"].append(sample)
    for row in rows.values():
        runs = row["runs"]
        row["passes"] = sum(1 for r in runs if r.passed)
        row["hidden"] = any(r.hidden for r in runs)  # one hidden sample hides the case
        row["error"] = next((r.error for r in runs if r.error), "")
        # A playground run is graded by nothing.
        row["passed"], row["rule"] = case_verdict(rubric, rule, runs) if rubric else (False, "")
    return list(rows.values())


def case_verdict(
    rubric: graders.Rubric, rule: graders.SampleRule, samples: list[Any]
) -> tuple[bool, str]:
    """Return whether a case of these samples passed, by the exercise's rubric and sample
    rule, and what the rule needs when there are several ("needs 4 of 5")."""
    grades = [stored_grade(getattr(s, "run", s)) for s in samples]
    passed = graders.score_case(rubric, grades, sample_rule=rule).passed
    return passed, rule.describe(len(samples)) if len(samples) > 1 else ""


def stored_grade(run: Run) -> graders.CaseGrade:
    """Return the grade a run stores (score, pass, and the status of its criteria)."""
    status = worst_status(c.get("status", "ok") for c in run.criteria)
    return graders.CaseGrade(score=run.score or 0.0, passed=bool(run.passed), status=status)
