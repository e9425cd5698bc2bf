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

No database and no Django settings: it reads the exercise files, and renders each prompt
as an attempt would (sandbox.prompting) for the stub's rules (sandbox.backends.stub).
One JSON line per exercise, then the total.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

import graders
from graders import personas
from graders.judge import CONSISTENCY, GRADE, KNOWN_ANSWER, JudgeRequest
from sandbox.backends.stub import parse_script, truncate_words
from sandbox.prompting import PROMPT_FIELDS, render_prompt

EXERCISES = Path(__file__).resolve().parent / "starter/prompt-fundamentals/exercises"
JUDGE_EXERCISES = ("late-delivery-reply", "judge-proof")
PERSONAS = {"judge": personas.honest, "obedient": personas.obedient}
DEFAULT_MAX_TOKENS = 256  # Exercise.max_tokens's default


def learner_prompts(exercise: Mapping[str, Any]) -> list[Mapping[str, str]]:
    """Return the mix of prompts graded: the solution, each known-bad one, the starter."""
    return [exercise["solution"], *exercise["known_bad"], {}]


def outputs(exercise: Mapping[str, Any], values: Mapping[str, str]) -> list[graders.CaseOutputs]:
    """Return each test case with the stub's reply to the prompt rendered for it."""
    prompt, script = exercise["prompt"], parse_script(exercise["stub"])
    edited = {name: text for name, text in values.items() if name in prompt["editable"]}
    fields = {name: edited.get(name, prompt.get(name, "")) for name in PROMPT_FIELDS}
    max_tokens = exercise.get("model", {}).get("max_tokens", DEFAULT_MAX_TOKENS)
    cases = []
    for case in exercise["cases"]:
        rendered = render_prompt(fields, case["vars"])
        reply = truncate_words(script.reply(rendered.as_text()), max_tokens)
        cases.append(
            graders.CaseOutputs(
                case=graders.Case(name=case["name"], variables=case["vars"]),
                outputs=(reply,),
                submission=graders.Submission(fields=fields, rendered=rendered.as_text()),
            )
        )
    return cases


def without_requires(rubric: Mapping[str, Any]) -> dict[str, Any]:
    criteria = [
        {**c, "params": {k: v for k, v in c["params"].items() if k != "requires"}}
        for c in rubric["criteria"]
    ]
    return {**rubric, "criteria": criteria}


def judge_calls(exercise: Mapping[str, Any], rubric: graders.Rubric) -> Counter[str]:
    """Return the judge calls made grading the mix of prompts with the rubric, by purpose."""
    script = personas.load_script(exercise["stub"]["judge"])
    calls: Counter[str] = Counter()

    def counted(request: JudgeRequest) -> str:
        calls[request.purpose] += 1
        return PERSONAS[request.model](script)(request)

    for values in learner_prompts(exercise):
        graders.grade_attempt(rubric, outputs(exercise, values), judge=counted)
    return calls


FIGURES = ("cascade", "cascade_grade", "cascade_checks", "without_requires", "one_call_per_case")


def measure(slug: str) -> dict[str, Any]:
    """Return an exercise's judge calls per attempt, each way (FIGURES), over its mix."""
    exercise = yaml.safe_load((EXERCISES / f"{slug}.yaml").read_text(encoding="utf-8"))
    rubric = graders.load_rubric(exercise["rubric"])
    attempts = len(learner_prompts(exercise))
    cascade = judge_calls(exercise, rubric)
    uncascaded = judge_calls(exercise, graders.load_rubric(without_requires(exercise["rubric"])))
    judges = sum(c.kind == "llm_judge" for c in rubric.criteria)
    return {
        "name": f"judge_calls_per_attempt.{slug}",
        "attempts": attempts,
        "cases": len(exercise["cases"]),
        "cascade": cascade.total() / attempts,
        "cascade_grade": cascade[GRADE] / attempts,
        "cascade_checks": (cascade[KNOWN_ANSWER] + cascade[CONSISTENCY]) / attempts,
        "without_requires": uncascaded.total() / attempts,
        "one_call_per_case": len(exercise["cases"]) * judges,
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
