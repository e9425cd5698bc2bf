"""Grade one model output against a rubric from the command line, as promptfoo's CLI lets
authors do, and print the grade as JSON. Exit code 0 when graded (passed or not), 1 when an
input is bad (see docs/graders.md, "Grading outside the browser")."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

import graders
from graders.results import NEEDS_REVIEW
from lessons.authoring.coursefiles import (
    CourseFilesInvalid,
    file_text,
    read_case_file,
    read_file,
    read_rubric_file,
)
from lessons.models import Case, Exercise
from sandbox import calls
from sandbox.providers import allowed_models, model_unavailable

RESULT_FIELDS = ("id", "kind", "passed", "score", "status", "detail", "suspected_injection")


class Command(BaseCommand):
    help = (
        "Grade an output file against a rubric file (a bare rubric, or an exercise file) and "
        "print the grade as JSON. Exit code 0 when graded, pass or fail; 1 on bad input."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--rubric",
            type=Path,
            required=True,
            help="a YAML rubric, or an exercise file of a course folder (its rubric, model, "
            "stub rules and starter prompt)",
        )
        parser.add_argument(
            "--output-file", type=Path, required=True, help="the model output to grade (UTF-8)"
        )
        parser.add_argument(
            "--case", type=Path, help="a YAML test case: vars, expected, reference (optional)"
        )
        parser.add_argument(
            "--judge",
            metavar="MODEL",
            help='the model every llm_judge criterion asks, "backend:model" (stub:judge, '
            "openai:gpt-4o-mini) or a model of the exercise's backend; without it, judge "
            'criteria are "unavailable"',
        )

    def handle(self, rubric: Path, output_file: Path, case=None, judge=None, **options) -> None:
        try:
            fields, variables = read_file(rubric, read_rubric_file)
            output = file_text(output_file)[1]
            row = Case(**read_file(case, read_case_file(variables))) if case else None
        except CourseFilesInvalid as e:
            raise CommandError(f"Not graded:\n{e}") from None
        exercise = Exercise(**fields)
        parsed = exercise.parsed_rubric
        judge_log: list[calls.CallLog] = []
        ask = judge_of(exercise, judge, judge_log) if judge is not None else None
        if ask is None and parsed.calls_a_model():
            self.stderr.write(
                f"{rubric}: no --judge was given, so the judge criteria "
                f'({", ".join(parsed.model_criteria)}) are "unavailable".'
            )
        grade = graders.grade_case(
            parsed,
            output,
            row.as_grader_case() if row else None,
            # The starter prompt rendered for the case, as "try this rubric" grades.
            exercise.submission({}, row),
            judge=ask,
        )
        self.stdout.write(json.dumps(report(grade, len(judge_log)), indent=2, ensure_ascii=False))


def judge_of(exercise: Exercise, name: str, log: list[calls.CallLog]) -> graders.Judge:
    """Return the worker's judge (same model layer and retries) asking the model `name`
    names, whatever model each criterion names; its calls are appended to `log`."""
    backend, model = exercise.judge_model(name)
    key = f"{backend}:{model}"
    allowed = allowed_models()
    if key not in allowed:
        raise CommandError(f"--judge: {key} is not one of this site's models: {', '.join(allowed)}")
    reason = model_unavailable(backend, model)
    if reason:
        raise CommandError(f"--judge: {reason}")
    deadline = time.monotonic() + settings.ATTEMPT_SOFT_TIME_LIMIT
    ask = calls.make_judge(exercise, deadline, log)
    return lambda request: ask(replace(request, model=key))


def report(grade: graders.CaseGrade, judge_calls: int) -> dict[str, Any]:
    return {
        "score": grade.score,
        "passed": grade.passed,
        "needs_review": grade.status == NEEDS_REVIEW,
        "status": grade.status,
        "suspected_injection": grade.suspected_injection,
        "judge_calls": judge_calls,
        "criteria": [{f: getattr(c, f) for f in RESULT_FIELDS} for c in grade.criteria],
    }
