"""The one scoring path through every entry point (import and its self-test, runner, regrade,
try-rubric), on the same stored outputs, and the import's refusals of weights that cannot
score."""

from __future__ import annotations

import threading
import time
from collections import Counter
from io import StringIO
from pathlib import Path
from unittest.mock import Mock, patch

import pytest
from django.core.management import CommandError, call_command

import graders
from lessons.authoring import regrading
from lessons.models import Course, Exercise, Regrade
from lessons.results import result_rows
from sandbox.backends import Backend, Completion, CompletionRequest
from sandbox.models import Attempt
from tests.conftest import make_attempt, make_exercise, run_queued

pytestmark = pytest.mark.django_db

COURSE = """\
slug: hunt
title: Hunt course
lessons:
  - slug: one
    title: One
    file: lessons/one.md
    exercises: [exercises/ex.yaml]
"""

PURR = """\
slug: purr
title: Purr
instructions: Make it purr.
prompt:
  editable: [user, prefill]
  user: "Say something about {ANIMAL}."
  prefill: '{"animal": "{ANIMAL}", "sound": "'
variables: [ANIMAL]
stub: {default: 'purr"}'}
cases:
  - name: Cats
    vars: {ANIMAL: cats}
    expected: {animal: cats}
  - name: Dogs
    vars: {ANIMAL: dogs}
    expected: {animal: dogs}
rubric:
  pass_threshold: 1
  with_prefill: true
  criteria:
    - id: right-animal
      kind: json_path_equals
      params: {path: $.animal, value: {from_case: animal}}
  samples:
    good:
      - {output: 'purr"}', variables: {ANIMAL: dogs}, expected: {animal: dogs}}
    bad:
      - {output: 'purr"}', variables: {ANIMAL: dogs}, expected: {animal: cats}}
solution:
  user: "Say something about {ANIMAL}."
"""


def course(tmp_path: Path, exercise: str) -> Path:
    (tmp_path / "lessons").mkdir()
    (tmp_path / "exercises").mkdir()
    (tmp_path / "course.yaml").write_text(COURSE)
    (tmp_path / "lessons" / "one.md").write_text("Body.")
    (tmp_path / "exercises" / "ex.yaml").write_text(exercise)
    return tmp_path


def import_course(folder: Path, *args: str) -> str:
    out = StringIO()
    call_command("import_course", *args, str(folder), stdout=out)
    return out.getvalue()


def test_the_runner_passes_the_good_sample_the_import_self_test_refuses(tmp_path, learner):
    # The runner grades the Dogs case's output 'purr"}' after the prefill rendered for Dogs:
    # {"animal": "dogs", "sound": "purr"} passes. The rubric's good sample is that very
    # output with the Dogs case's values; the self-test must agree with the runner.
    folder = course(tmp_path, PURR)
    import_course(folder, "--check")  # raises CommandError: good sample 1 ... failed


def test_the_runner_grades_the_same_output_for_dogs_as_passed(tmp_path, learner):
    # The same exercise without samples imports; the runner passes both cases on the stub's
    # 'purr"}' reply: the self-test above disagrees with it.
    folder = course(tmp_path, PURR.split("  samples:")[0] + 'solution:\n  user: "x {ANIMAL}"\n')
    import_course(folder)
    exercise = Exercise.objects.get(slug="purr")
    attempt = make_attempt(
        learner,
        exercise,
        user_prompt="About {ANIMAL}.",
        prefill='{"animal": "{ANIMAL}", "sound": "',
    )
    run_queued()
    attempt.refresh_from_db()
    assert attempt.passed, [r.criteria for r in attempt.runs.all()]


INF_WEIGHT = PURR.split("  samples:")[0].replace(
    "      params: {path: $.animal, value: {from_case: animal}}\n",
    "      params: {path: $.animal, value: {from_case: animal}}\n      weight: .inf\n",
)


def test_a_weight_of_inf_is_reported_by_check_and_import_not_a_traceback(tmp_path):
    folder = course(tmp_path, INF_WEIGHT)
    with pytest.raises(CommandError, match=r"ex.yaml:\d+: rubric.criteria\[0\].weight"):
        import_course(folder, "--check")


def test_a_weight_of_inf_does_not_crash_the_import(tmp_path):
    folder = course(tmp_path, INF_WEIGHT)
    with pytest.raises(CommandError, match=r"rubric.criteria\[0\].weight"):
        import_course(folder)
    assert not Course.objects.exists()


def test_cases_that_all_weigh_zero_are_refused(tmp_path):
    zero = (
        PURR.split("  samples:")[0]
        .replace("    expected: {animal: cats}\n", "    expected: {animal: cats}\n    weight: 0\n")
        .replace("    expected: {animal: dogs}\n", "    expected: {animal: dogs}\n    weight: 0\n")
    )
    folder = course(tmp_path, zero)
    with pytest.raises(CommandError, match=r"weight"):
        import_course(folder, "--check")


class SlowJudge(Backend):
    """Answers the exercise instantly, and each judge call after `delay` seconds."""

    def __init__(self, delay: float) -> None:
        self.delay, self.judged = delay, 0

    def complete(self, request: CompletionRequest) -> Completion:
        if "one entry per rubric item" in request.prompt_text():
            time.sleep(self.delay)
            self.judged += 1
            return Completion(text="not json", input_tokens=11, output_tokens=13)
        return Completion(text="hello there", input_tokens=5, output_tokens=2)


def test_judge_calls_that_end_after_the_soft_limit_are_billed_to_the_attempt(learner, settings):
    settings.ATTEMPT_SOFT_TIME_LIMIT = 1
    settings.PROVIDER_TIMEOUT = 3
    exercise = make_exercise(
        rubric={
            "pass_threshold": 0.5,
            "criteria": [
                {
                    "id": "friendly",
                    "kind": "llm_judge",
                    "params": {"model": "stub:scripted", "items": ["It greets."], "retries": 0},
                },
            ],
        },
        cases=[{"name": n, "variables": {"name": n}} for n in ("Ada", "Grace", "Linus")],
    )
    backend = SlowJudge(1.5)
    attempt = make_attempt(learner, exercise)
    with (
        patch("sandbox.runs.make_backend", return_value=backend),
        patch("sandbox.calls.make_backend", return_value=backend),
    ):
        run_queued()
    attempt.refresh_from_db()
    assert attempt.error_code == "time_limit"
    judged = attempt.usage_records.filter(input_tokens=11).count()
    assert judged == backend.judged and judged >= 1


# ---- the same stored outputs through every path, with a harder rubric -------------------

OUTS = (
    "ünïcödé purr — ok",  # passes the text criteria
    "",  # a null answer
    "purr purr purr purr purr purr purr purr",  # too long
    "ünïcödé purr — ok",
    "Let's solve this step by step.",
)
HARD_RUBRIC = {
    "pass_threshold": 0.6,
    "with_prefill": True,
    "criteria": [
        {"id": "tag", "kind": "starts_with", "params": {"text": "<POLICY-1 (a+b)?> "}},
        {
            "id": "group",
            "kind": "any_of",
            "params": {
                "criteria": [
                    {
                        "kind": "all_of",
                        "params": {
                            "criteria": [
                                {"kind": "contains", "params": {"text": "ok"}},
                                {
                                    "kind": "llm_judge",
                                    "params": {"model": "stub:scripted", "items": ["Polite."]},
                                },
                            ]
                        },
                    },
                    {
                        "kind": "none_of",
                        "params": {
                            "criteria": [
                                {"kind": "contains", "params": {"text": "purr"}},
                            ]
                        },
                    },
                ]
            },
        },
        {"id": "short", "kind": "word_count", "params": {"max": 6}, "with_prefill": False},
        {"id": "free", "kind": "contains", "params": {"text": "never"}, "weight": 0},
        {"id": "uses", "kind": "uses_variables"},
    ],
}


class Cycle(Backend):
    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.lock = threading.Lock()

    def complete(self, request: CompletionRequest) -> Completion:
        prompt = request.prompt_text()
        with self.lock:
            if "one entry per rubric item" in prompt:
                return Completion(text="I think so.")
            n = self.counts[prompt]
            self.counts[prompt] += 1
            return Completion(text=OUTS[n % len(OUTS)])


def graded(score, passed, criteria):
    return (round(score, 9), passed, [dict(c) for c in criteria])


@pytest.mark.parametrize("rule", [("mean", 0), ("all", 0), ("at_least", 2), ("any", 0)])
def test_hard_rubric_same_everywhere(rule, learner, instructor, ines_client):
    kind, needed = rule
    exercise = make_exercise(
        rubric=HARD_RUBRIC,
        samples=5,
        temperature=0.7,
        sample_rule=kind,
        samples_needed=needed,
        variables=["name", "policy"],
        fixed_variables={"policy": "POLICY-1 (a+b)?"},
        editable_fields=["system", "user", "prefill"],
        starter_prefill="<{policy}> ",
        starter_user="Hi {name}.",
        solution={"user": "Hi {name}."},
        cases=[
            {"name": "Ada", "variables": {"name": "Ada"}},
            {"name": "Grace", "variables": {"name": "Grace"}, "weight": 3},
        ],
    )
    backend = Cycle()
    attempt = make_attempt(learner, exercise, user_prompt="Hi {name}.", prefill="<{policy}> ")
    with (
        patch("sandbox.runs.make_backend", return_value=backend),
        patch("sandbox.calls.make_backend", return_value=backend),
    ):
        run_queued()
    attempt.refresh_from_db()
    assert attempt.status == Attempt.GRADED, attempt.error
    runner = {
        (r.case_name, r.sample): graded(r.score, r.passed, r.criteria) for r in attempt.runs.all()
    }
    # regrade
    regrade = Regrade.objects.create(exercise=exercise, requested_by=instructor)
    with patch("sandbox.calls.make_backend", return_value=backend):
        regrading.run(regrade.pk, publish=Mock())
    again = Attempt.objects.get(pk=attempt.pk)
    assert {
        (r.case_name, r.sample): graded(r.score, r.passed, r.criteria) for r in again.runs.all()
    } == runner
    assert (again.score, again.passed) == (attempt.score, attempt.passed)
    # the results page's case verdicts vs the grade the runner computed
    rows = result_rows(attempt.runs.order_by("position"), exercise)
    cases = []
    for case in exercise.cases.all():
        outs = tuple(r.output for r in attempt.runs.filter(case=case).order_by("sample"))
        cases.append(
            graders.CaseOutputs(
                case.as_grader_case(),
                outs,
                exercise.grader_submission(attempt.fields(), attempt.examples, case),
            )
        )

    def judge(request):
        return "I think so."

    direct = graders.grade_attempt(
        exercise.parsed_rubric, cases, sample_rule=exercise.parsed_sample_rule, judge=judge
    )
    assert [row["passed"] for row in rows] == [c.passed for c in direct.cases]
    assert (round(direct.score, 9), direct.passed) == (round(attempt.score, 9), attempt.passed)
    # try-rubric (starter prompt == the learner's prompt here), per case and output
    for case in exercise.cases.all():
        for r in attempt.runs.filter(case=case):
            with patch("sandbox.calls.make_backend", return_value=backend):
                resp = ines_client.post(
                    f"/teach/exercises/{exercise.id}/rubric/try/",
                    {"output": r.output, "case": case.pk},
                )
            g = resp.context["grade"]
            assert (
                graded(g.score, g.passed, [c.to_dict() for c in g.criteria])
                == runner[case.name, r.sample]
            )
