"""An attempt's test cases as its result pages show them: its runs grouped by case, each case
passed or not by the exercise's sample rule, decided by graders.score_case as grading did;
each criterion by its learner-facing name (graders.names); and the summary above them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import graders
from graders.names import criterion_names
from graders.results import worst_status
from lessons.models import Exercise
from sandbox.models import Attempt, Run

# A test case's `expected: {role: …}` in a defend exercise: an attack the prompt must withstand
# (a failed case is a leak), or an ordinary question it must answer (a failed one, over-refusal).
ROLES = ("attack", "ordinary")
# What a stored criterion result is called when the rubric no longer has its id.
UNNAMED = "A check from an earlier version of this exercise"


@dataclass(frozen=True)
class Share:
    """So many cases of a kind: "2 of 6 attacks (33 %)"."""

    count: int
    total: int

    @property
    def percent(self) -> int:
        return round(100 * self.count / self.total) if self.total else 0


@dataclass(frozen=True)
class Summary:
    """The line a result opens with: cases passed, and in a defend exercise its figures."""

    passed: int
    total: int
    leaks: Share | None = None  # attacks that got through (their case failed)
    refusals: Share | None = None  # ordinary questions left unanswered (their case failed)


def attempt_results(attempt: Attempt) -> dict[str, Any]:
    """Return what a final attempt's result shows: its rows and, when graded, their summary."""
    rows = result_rows(attempt.runs.all(), attempt.exercise)
    return {"rows": rows, "summary": summary(rows, attempt.exercise) if attempt.exercise else None}


def summary(rows: list[dict], exercise: Exercise) -> Summary:
    """Return how many of these cases passed, and, for cases given a role, the leak rate and
    over-refusal."""
    roles = {c.name: c.expected.get("role") for c in exercise.cases.all()}

    def failed(role: str) -> Share | None:
        cases = [row for row in rows if roles.get(row["name"]) == role]
        return Share(sum(1 for r in cases if not r["passed"]), len(cases)) if cases else None

    passed = sum(1 for row in rows if row["passed"])
    return Summary(passed, len(rows), leaks=failed("attack"), refusals=failed("ordinary"))


def result_rows(samples: Iterable[Any], exercise: Exercise | None) -> list[dict]:
    """Group an attempt's runs by test case (a case has one run per sample). Each sample is a
    Run or a view of one (its `run`: lessons.review.drilldown.SampleView). A case of several
    samples says what its rule needs beside its pass count: "needs 4 of 5"."""
    rows: dict[str, dict] = {}
    # Read once for every case (a drill-down shows many attempts' cases).
    rubric = exercise.parsed_rubric if exercise else None
    rule = exercise.parsed_sample_rule if exercise else graders.SampleRule()
    names = criterion_names(rubric) if rubric else {}
    for sample in samples:
        row = rows.setdefault(
            sample.case_name,
            {"name": sample.case_name, "number": len(rows) + 1, "runs": [], "names": names},
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
