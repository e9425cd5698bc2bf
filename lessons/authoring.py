"""Plain functions behind the instructor's pages: CSV test cases, publish checks, regrade.

The views validate input and call these; nothing here reads a request.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml
from django.db import models, transaction
from django.utils import timezone

import graders
from lessons.models import Case, Exercise, Regrade
from sandbox.models import Attempt, Run

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------
# YAML in text areas


def load_yaml(text: str, expect: type, what: str) -> Any:
    """Return the YAML value of a text area, or raise ValueError naming the line.

    An empty text gives the empty value of the expected type.
    """
    if not text.strip():
        return expect()
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" on line {mark.line + 1}" if mark else ""
        problem = getattr(e, "problem", None) or "it is not valid YAML"
        raise ValueError(f"{what} is not valid YAML{where}: {problem}") from None
    if value is None:
        return expect()
    if not isinstance(value, expect):
        wanted = {dict: "a mapping (key: value lines)", list: "a list (lines starting with -)"}
        raise ValueError(f"{what} must be {wanted.get(expect, expect.__name__)}")
    return value


def dump_yaml(value: Any) -> str:
    """Return value as block-style YAML, or "" for an empty value."""
    if not value:
        return ""
    return yaml.safe_dump(value, sort_keys=False, allow_unicode=True, width=88)


# ---------------------------------------------------------------------------------------------
# Test cases from CSV (promptfoo style: one column per variable, plus __ columns)

# Short syntax of an expectation cell → (criterion id, kind, param, ignore_case)
EXPECTATIONS: dict[str, tuple[str, str, str, bool]] = {
    "equals": ("expect-equals", "equals", "text", False),
    "iequals": ("expect-iequals", "equals", "text", True),
    "contains": ("expect-contains", "contains", "text", False),
    "icontains": ("expect-icontains", "contains", "text", True),
    "not-contains": ("expect-not-contains", "not_contains", "text", False),
    "starts-with": ("expect-starts-with", "starts_with", "text", False),
    "ends-with": ("expect-ends-with", "ends_with", "text", False),
    "regex": ("expect-regex", "regex", "pattern", False),
}
SPECIAL_COLUMNS = ("__name", "__visibility", "__reference", "__weight")
VISIBILITY_ALIASES = {"hidden": "hide", "visible": "show", "": "show"}
MAX_CSV_ROWS = 500


def expectation_criterion(prefix: str) -> dict[str, Any]:
    """Return the rubric criterion that checks an expectation prefix on every test case."""
    cid, kind, param, ignore_case = EXPECTATIONS[prefix]
    criterion: dict[str, Any] = {"id": cid, "kind": kind, "params": {param: {"from_case": cid}}}
    if ignore_case:
        criterion["ignore_case"] = True
    return criterion


def parse_expectation(cell: str) -> tuple[str, str]:
    """Return (prefix, value) of an expectation cell; a cell without a known prefix is equals.

    >>> parse_expectation("regex:^#\\\\d+$")
    ('regex', '^#\\\\d+$')
    >>> parse_expectation("Paris")
    ('equals', 'Paris')
    """
    prefix, sep, value = cell.partition(":")
    if sep and prefix.strip().lower() in EXPECTATIONS:
        return prefix.strip().lower(), value.strip()
    return "equals", cell.strip()


def is_expectation_column(name: str) -> bool:
    return name == "__expected" or (
        name.startswith("__expected") and name.removeprefix("__expected").isdigit()
    )


@dataclass
class CsvImport:
    cases: list[dict[str, Any]] = field(default_factory=list)
    criteria: list[dict[str, Any]] = field(default_factory=list)  # rubric criteria to add
    errors: list[str] = field(default_factory=list)


def parse_cases_csv(text: str, variables: Sequence[str]) -> CsvImport:
    """Return the test cases a CSV describes, the criteria its expectations need, and every
    problem found, each naming its row (as a spreadsheet numbers it) and column.

    Columns: one per variable; `__name`, `__visibility` (show, hide, hide_if_fail,
    hide_if_pass), `__reference`, `__weight`; and `__expected`, `__expected2` … holding
    `equals:…`, `contains:…`, `icontains:…`, `not-contains:…`, `starts-with:…`,
    `ends-with:…` or `regex:…` (a cell with no prefix means equals). Each expectation becomes
    the case's `expected` value, read by one rubric criterion per prefix; since that criterion
    checks every case, a prefix used by one row must be used by every row.
    """
    result = CsvImport()
    if not text.strip():
        result.errors.append("The CSV is empty.")
        return result
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    header = [h.strip() for h in rows[0]]
    body = [(number, row) for number, row in enumerate(rows[1:], start=2) if any(row)]
    known = set(variables) | set(SPECIAL_COLUMNS)
    for name in header:
        if name not in known and not is_expectation_column(name):
            allowed = ", ".join([*variables, *SPECIAL_COLUMNS, "__expected"])
            result.errors.append(
                f"Row 1, column {name!r}: not a variable of this exercise nor a known column "
                f"(allowed: {allowed})."
            )
    for name in variables:
        if name not in header:
            result.errors.append(f"Row 1: there is no column for the variable {name!r}.")
    if len(set(header)) != len(header):
        result.errors.append("Row 1: two columns have the same name.")
    if not body:
        result.errors.append("The CSV has a header row but no test cases.")
    if len(body) > MAX_CSV_ROWS:
        result.errors.append(f"The CSV has {len(body)} rows; import at most {MAX_CSV_ROWS}.")
    if result.errors:
        return result

    prefixes_by_row: list[tuple[int, set[str]]] = []
    for number, row in body:
        if len(row) != len(header):
            result.errors.append(
                f"Row {number}: {len(row)} cells, but the header has {len(header)} columns."
            )
            continue
        cells = dict(zip(header, row, strict=True))
        case: dict[str, Any] = {
            "name": cells.get("__name", "").strip() or f"Case {len(result.cases) + 1}",
            "variables": {v: cells[v] for v in variables},
            "reference": cells.get("__reference", ""),
            "expected": {},
            "weight": 1.0,
        }
        visibility = cells.get("__visibility", "").strip().lower().replace(" ", "_")
        visibility = VISIBILITY_ALIASES.get(visibility, visibility)
        if visibility not in graders.VISIBILITY:
            result.errors.append(
                f"Row {number}, column '__visibility': {cells['__visibility']!r} is not one of "
                f"{', '.join(graders.VISIBILITY)}."
            )
        case["visibility"] = visibility
        weight = cells.get("__weight", "").strip()
        if weight:
            try:
                case["weight"] = float(weight)
                if case["weight"] < 0:
                    raise ValueError
            except ValueError:
                result.errors.append(
                    f"Row {number}, column '__weight': {weight!r} is not a number of 0 or more."
                )
        used: set[str] = set()
        for column in filter(is_expectation_column, header):
            cell = cells[column]
            if not cell.strip():
                continue
            prefix, value = parse_expectation(cell)
            problem = expectation_problem(prefix, value, used)
            if problem:
                result.errors.append(f"Row {number}, column {column!r}: {problem}")
                continue
            used.add(prefix)
            case["expected"][EXPECTATIONS[prefix][0]] = value
        prefixes_by_row.append((number, used))
        result.cases.append(case)

    every = set().union(*(p for _, p in prefixes_by_row)) if prefixes_by_row else set()
    for number, used in prefixes_by_row:
        for prefix in sorted(every - used):
            result.errors.append(
                f"Row {number}: other rows check {prefix}:…, so this row needs a {prefix}: "
                "value too (the criterion it adds checks every test case)."
            )
    result.criteria = [expectation_criterion(p) for p in EXPECTATIONS if p in every]
    if result.errors:
        result.cases, result.criteria = [], []
    return result


def expectation_problem(prefix: str, value: str, used: set[str]) -> str:
    """Return what is wrong with one expectation cell, or ""."""
    if prefix in used:
        return f"{prefix}: appears twice in this row; put one check per prefix."
    if not value:
        return f"{prefix}: needs a value after the colon."
    if prefix == "regex":
        try:
            graders.load_rubric(
                {"criteria": [{"id": "x", "kind": "regex", "params": {"pattern": value}}]}
            )
        except graders.RubricError as e:
            return e.message
    return ""


def merge_criteria(rubric: dict[str, Any], criteria: list[dict[str, Any]]) -> dict[str, Any]:
    """Return the rubric with the criteria whose id it does not have yet appended."""
    have = {c.get("id") for c in rubric.get("criteria", [])}
    added = [c for c in criteria if c["id"] not in have]
    return {**rubric, "criteria": [*rubric.get("criteria", []), *added]}


@transaction.atomic
def save_imported_cases(exercise: Exercise, imported: CsvImport, replace: bool) -> int:
    """Save the imported cases (after the existing ones, or instead of them); return how many."""
    if replace:
        exercise.cases.all().delete()
    start = (exercise.cases.aggregate(m=models.Max("position"))["m"] or -1) + 1
    Case.objects.bulk_create(
        Case(exercise=exercise, position=start + i, **case) for i, case in enumerate(imported.cases)
    )
    if imported.criteria:
        exercise.rubric = merge_criteria(exercise.rubric, imported.criteria)
        exercise.save(update_fields=["rubric"])
    return len(imported.cases)


# ---------------------------------------------------------------------------------------------
# Ordering


def move(items: Sequence[models.Model], item: models.Model, delta: int) -> None:
    """Move item one place up (delta -1) or down (+1) among its siblings, renumbering them."""
    ordered = list(items)
    index = next(i for i, other in enumerate(ordered) if other.pk == item.pk)
    target = index + delta
    if 0 <= target < len(ordered):
        ordered[index], ordered[target] = ordered[target], ordered[index]
    for position, other in enumerate(ordered):
        other.position = position
    type(item).objects.bulk_update(ordered, ["position"])


# ---------------------------------------------------------------------------------------------
# Publishing


def reference_attempt_fields(exercise: Exercise) -> dict[str, Any]:
    """Return the Attempt fields of a run of the exercise's reference solution."""
    solution = exercise.solution or {}
    fields, examples = exercise.compose(solution)
    return {
        "exercise": exercise,
        "is_reference": True,
        "system_prompt": fields["system"],
        "user_prompt": fields["user"],
        "prefill": fields["prefill"],
        "slots": solution.get("slots") or {},
        "examples": examples,
    }


def problems_before_running(exercise: Exercise) -> list[str]:
    """Return why the reference solution cannot even be run (no solution, no cases, …)."""
    problems = []
    if not any(v for v in (exercise.solution or {}).values()):
        problems.append("There is no reference solution: write one under “Reference solution”.")
    if not exercise.cases.exists():
        problems.append("There are no test cases: add at least one.")
    try:
        graders.load_rubric(exercise.rubric)
    except graders.RubricError as e:
        problems.append(f"The rubric is not valid: {e}")
    return problems


def reference_failures(attempt: Attempt, limit: int = 4) -> list[str]:
    """Return one sentence per failing criterion of the reference run, naming the case."""
    failures = []
    cases = {run.case_name: n for n, run in enumerate(attempt.runs.all(), start=1)}
    for run in attempt.runs.all():
        if run.error:
            failures.append(f"case {cases[run.case_name]} ({run.case_name!r}): {run.error}")
            continue
        for criterion in run.criteria:
            if not criterion["passed"]:
                failures.append(
                    f"criterion {criterion['id']!r} failed on case {cases[run.case_name]} "
                    f"({run.case_name!r}): {criterion['detail']}"
                )
    if len(failures) > limit:
        failures = [*failures[:limit], f"and {len(failures) - limit} more"]
    return failures


@dataclass
class PublishResult:
    published: bool
    problems: list[str] = field(default_factory=list)
    pending: bool = False


def finish_publish(exercise: Exercise, attempt: Attempt) -> PublishResult:
    """Publish the exercise if its reference run passed and its rubric passes its self-test.

    1. The reference attempt must be final; a queued or running one is still pending.
    2. It must have run the solution the exercise has now (not one edited meanwhile).
    3. It must have passed the rubric, and the rubric's self-test must pass.
    Each failed check is one sentence of the result, naming what failed.
    """
    if not attempt.is_final:
        return PublishResult(False, pending=True)
    problems = []
    expected = reference_attempt_fields(exercise)
    if (attempt.system_prompt, attempt.user_prompt, attempt.prefill) != (
        expected["system_prompt"],
        expected["user_prompt"],
        expected["prefill"],
    ):
        problems.append("The reference solution changed while it was being checked: publish again.")
    elif attempt.status == Attempt.ERROR:
        problems.append(f"Reference solution: it could not be run. {attempt.error}")
    elif not attempt.passed:
        threshold = round(graders.load_rubric(exercise.rubric).pass_threshold * 100)
        failures = reference_failures(attempt)
        why = ": " + "; ".join(failures) if failures else "."
        problems.append(
            f"Reference solution: it scored {attempt.score_percent}% (needs {threshold}%){why}"
        )
    report = exercise.self_test()
    problems += [f"Self-test: {m}" for m in report.messages()]
    if problems:
        return PublishResult(False, problems)
    Exercise.objects.filter(pk=exercise.pk).update(status=Exercise.PUBLISHED)
    exercise.status = Exercise.PUBLISHED
    return PublishResult(True)


# ---------------------------------------------------------------------------------------------
# Regrade


def rendered_text(messages: list[dict[str, str]]) -> str:
    """Return the prompt text a run sent, as RenderedPrompt.as_text() wrote it."""
    return "\n\n".join(
        f"[{m['role']}]\n{m['content']}"
        for m in messages
        if not (m["role"] == "system" and not m["content"])
    )


def regrade_attempt(exercise: Exercise, rubric: graders.Rubric, attempt: Attempt) -> bool:
    """Grade an attempt's stored outputs again with the exercise's current rubric (no model
    call), save the runs and the total; return whether the attempt's score or pass changed."""
    runs = list(attempt.runs.select_related("case"))
    if not runs:
        return False
    starter = exercise.starter()
    by_case: dict[object, list[tuple[Run, graders.CaseGrade]]] = {}
    for run in runs:
        case = run.case.as_grader_case() if run.case else graders.Case(name=run.case_name)
        grade = graders.grade_case(
            rubric,
            run.output,
            case=case,
            submission=graders.Submission(
                fields=attempt.fields(),
                starter=starter,
                editable=exercise.editable_parts(),
                variables=tuple(exercise.variables),
                rendered=rendered_text(run.messages),
            ),
        )
        run.score, run.passed = grade.score, grade.passed
        run.criteria = [c.to_dict() for c in grade.criteria]
        run.hidden = bool(
            run.case and not graders.feedback_visible(run.case.visibility, grade.passed)
        )
        by_case.setdefault(run.case_id or run.case_name, []).append((run, grade))
    pairs = []
    for samples in by_case.values():
        score = sum(g.score for _, g in samples) / len(samples)
        if exercise.require_all_samples:
            passed = all(g.passed for _, g in samples)
        else:
            passed = score >= rubric.pass_threshold
        first_run, first_grade = samples[0]
        merged = graders.CaseGrade(score=score, passed=passed, criteria=first_grade.criteria)
        pairs.append((merged, first_run.case.weight if first_run.case else 1.0))
    total = graders.aggregate(rubric, pairs)
    changed = (attempt.score, attempt.passed) != (total.score, total.passed)
    with transaction.atomic():
        Run.objects.bulk_update(runs, ["score", "passed", "criteria", "hidden"])
        Attempt.objects.filter(pk=attempt.pk).update(score=total.score, passed=total.passed)
    attempt.score, attempt.passed = total.score, total.passed
    return changed


def regrade_exercise(regrade_id: int) -> None:
    """Run a queued regrade: every graded learner attempt of the exercise, counting progress.

    Claimed with a conditional update, so a duplicate message does nothing.
    """
    now = timezone.now()
    claimed = Regrade.objects.filter(pk=regrade_id, status=Regrade.QUEUED).update(
        status=Regrade.RUNNING, started_at=now
    )
    if not claimed:
        log.info("regrade %s is not queued; nothing to do", regrade_id)
        return
    regrade = Regrade.objects.select_related("exercise").get(pk=regrade_id)
    exercise = regrade.exercise
    try:
        rubric = graders.load_rubric(exercise.rubric)
        attempts = Attempt.objects.by_learners().filter(exercise=exercise, status=Attempt.GRADED)
        Regrade.objects.filter(pk=regrade_id).update(total=attempts.count())
        for attempt in list(attempts):
            changed = regrade_attempt(exercise, rubric, attempt)
            Regrade.objects.filter(pk=regrade_id).update(
                done=models.F("done") + 1, changed=models.F("changed") + int(changed)
            )
    except Exception as e:
        log.exception("regrade %s failed", regrade_id)
        Regrade.objects.filter(pk=regrade_id).update(
            status=Regrade.ERROR, error=str(e), finished_at=timezone.now()
        )
        return
    Regrade.objects.filter(pk=regrade_id).update(status=Regrade.DONE, finished_at=timezone.now())
