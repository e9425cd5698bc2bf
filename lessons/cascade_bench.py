"""Judge calls per attempt on the starter course's judge exercises: `python -m
lessons.cascade_bench` (run by `make bench-judge`; docs/benchmarks.md, "LLM judge").

For each exercise, a mix of learner prompts (its solution, each known-bad prompt, the
starter prompt) is run on every test case through the exercise's stub, as the pipeline
runs it, and the attempt is graded by graders.grade_attempt with the exercise's scripted
judge, counting the judge's calls. Three ways:

- cascade: the rubric as written: the judge waits for the criteria it `requires`, stops
  after a grade call that earns nothing, and makes its two checks when something is earned;
- without requires: the same protocol, asked on every case;
- one call per case: promptfoo's llm-rubric, one judge call per case and judge criterion,
  whatever the output (counted, not graded: it has no checks).

Each exercise is read as `import_course` reads it, and built unsaved (no database): the
prompts are rendered and answered as the runner does (Exercise.render, the stub backend),
and the judge is the runner's (sandbox.calls.make_judge). Run inside Django:
`python manage.py shell -c "from lessons import cascade_bench; cascade_bench.main()"`.
One JSON line per exercise, then the total.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import graders
from graders.judge import CONSISTENCY, GRADE, KNOWN_ANSWER, JudgeRequest
from lessons.authoring.coursefiles import read_exercise, read_file
from lessons.models import Case, Exercise, PromptValues
from sandbox.backends.stub import StubBackend
from sandbox.calls import make_judge
from sandbox.providers import model_choice
from sandbox.runs import build_request

EXERCISES = Path(__file__).resolve().parent / "starter/prompt-fundamentals/exercises"
JUDGE_EXERCISES = ("late-delivery-reply", "judge-proof")


def load(slug: str) -> tuple[Exercise, list[Case]]:
    """Return a starter exercise and its test cases, unsaved, as the import reads them."""
    fields = read_file(EXERCISES / f"{slug}.yaml", read_exercise)
    cases = [Case(**case) for case in fields.pop("cases")]
    return Exercise(**fields), cases


def learner_prompts(exercise: Exercise) -> list[PromptValues]:
    """Return the mix of prompts graded: the solution, each known-bad one, the starter."""
    return [exercise.solution, *exercise.known_bad, {}]


def outputs(
    exercise: Exercise, cases: list[Case], values: PromptValues
) -> list[graders.CaseOutputs]:
    """Return each test case with the stub's reply to the prompt rendered for it."""
    stub = StubBackend(exercise.stub_script)
    choice = model_choice(exercise.backend, exercise.model_name)
    graded = []
    for case in cases:
        prompt = exercise.render(values, case)
        request = build_request(choice, prompt, exercise.temperature, exercise.max_tokens)
        graded.append(
            graders.CaseOutputs(
                case=case.as_grader_case(),
                outputs=(stub.complete(request).text,),
                submission=exercise.submission(values, case),
            )
        )
    return graded


def without_requires(rubric: dict[str, Any]) -> dict[str, Any]:
    criteria = [
        {**c, "params": {k: v for k, v in c["params"].items() if k != "requires"}}
        for c in rubric["criteria"]
    ]
    return {**rubric, "criteria": criteria}


def judge_calls(exercise: Exercise, cases: list[Case], rubric: graders.Rubric) -> Counter[str]:
    """Return the judge calls made grading the mix of prompts with the rubric, by purpose."""
    judge = make_judge(exercise, time.monotonic() + 600, [])
    calls: Counter[str] = Counter()

    def counted(request: JudgeRequest) -> str:
        calls[request.purpose] += 1
        return judge(request)

    for values in learner_prompts(exercise):
        graders.grade_attempt(rubric, outputs(exercise, cases, values), judge=counted)
    return calls


FIGURES = ("cascade", "cascade_grade", "cascade_checks", "without_requires", "one_call_per_case")


def measure(slug: str) -> dict[str, Any]:
    """Return an exercise's judge calls per attempt, each way (FIGURES), over its mix."""
    exercise, cases = load(slug)
    rubric = exercise.parsed_rubric
    attempts = len(learner_prompts(exercise))
    cascade = judge_calls(exercise, cases, rubric)
    uncascaded = judge_calls(
        exercise, cases, graders.load_rubric(without_requires(exercise.rubric))
    )
    judges = sum(c.kind == "llm_judge" for c in rubric.criteria)
    return {
        "name": f"judge_calls_per_attempt.{slug}",
        "attempts": attempts,
        "cases": len(cases),
        "cascade": cascade.total() / attempts,
        "cascade_grade": cascade[GRADE] / attempts,
        "cascade_checks": (cascade[KNOWN_ANSWER] + cascade[CONSISTENCY]) / attempts,
        "without_requires": uncascaded.total() / attempts,
        "one_call_per_case": len(cases) * judges,
    }


def total(lines: list[dict[str, Any]]) -> dict[str, Any]:
    """Return the figures per attempt over every exercise's attempts."""
    attempts = sum(line["attempts"] for line in lines)
    return {
        "name": "judge_calls_per_attempt",
        "attempts": attempts,
        **{k: sum(line[k] * line["attempts"] for line in lines) / attempts for k in FIGURES},
    }


def rounded(line: dict[str, Any]) -> dict[str, Any]:
    ratio = {"cascade_to_one_call": line["cascade"] / line["one_call_per_case"]}
    return {k: round(v, 2) if isinstance(v, float) else v for k, v in {**line, **ratio}.items()}


def main() -> None:
    lines = [measure(slug) for slug in JUDGE_EXERCISES]
    for line in [*lines, total(lines)]:
        sys.stdout.write(json.dumps(rounded(line)) + "\n")


if __name__ == "__main__":
    main()
