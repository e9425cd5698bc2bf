"""Exercise.grader_submission: the one way to build what the graders read of a prompt."""

from __future__ import annotations

import graders
from sandbox.prompting import render_prompt
from tests.conftest import make_exercise

POLICY = "Travel policy: hotels up to 180 a night."


def test_it_renders_the_prompt_exactly_as_the_runner_sends_it(db):
    exercise = make_exercise(
        starter_prefill="<{name}>",
        editable_fields=["system", "user", "prefill"],
        fixed_variables={"policy": POLICY},
    )
    case = exercise.cases.get()
    fields = {"system": "Policy: {policy}", "user": "Greet {name}.", "prefill": "<{name}>"}
    examples = [["user", "Greet {name} twice."], ["assistant", "Hi hi."]]
    submission = exercise.grader_submission(fields, examples, case)
    sent = render_prompt(fields, exercise.case_variables(case), examples)
    assert submission.rendered == sent.as_text()
    assert submission.rendered_fields == {
        "system": f"Policy: {POLICY}",
        "user": "Greet Ada.",
        "prefill": "<Ada>",
    }
    assert submission.fields == fields
    assert submission.examples == (("user", "Greet {name} twice."), ("assistant", "Hi hi."))
    assert submission.fixed_variables == {"policy": POLICY}
    assert submission.starter == exercise.starter()
    # A learner's values (as the exercise page holds them) are composed first.
    assert exercise.submission(fields, case) == exercise.grader_submission(
        *exercise.compose(fields), case
    )


def test_the_self_test_grades_the_prefill_the_model_received(db):
    rubric = {
        "pass_threshold": 1,
        "with_prefill": True,
        "criteria": [{"id": "tag", "kind": "starts_with", "params": {"text": "<Ada> hello"}}],
        "samples": {"good": [" hello"], "bad": [" bye"]},
    }
    exercise = make_exercise(
        rubric=rubric, starter_prefill="<{name}>", solution={"user": "Greet {name}."}
    )
    report = exercise.self_test()
    assert report.ok, report.messages()


def test_uses_variables_checks_a_fixed_variable_the_exercise_does_not_list(db):
    rubric = {"criteria": [{"id": "uses", "kind": "uses_variables"}]}
    exercise = make_exercise(rubric=rubric, fixed_variables={"policy": POLICY})
    case = exercise.cases.get()
    forgot = exercise.submission({"user": "Greet {name}."}, case)
    pasted = exercise.submission({"user": f"{POLICY} Greet {{name}}."}, case)
    used = exercise.submission({"user": "{policy} Greet {name}."}, case)
    loaded = graders.load_rubric(rubric)
    grade = graders.grade_case
    assert not grade(loaded, "", case.as_grader_case(), forgot).passed
    assert not grade(loaded, "", case.as_grader_case(), pasted).passed
    assert grade(loaded, "", case.as_grader_case(), used).passed
