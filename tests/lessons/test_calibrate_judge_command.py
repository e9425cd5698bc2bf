"""manage.py calibrate_judge EXERCISE...: a table per judge criterion and version, and
--check failing on a judge that disagrees with its labels."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from lessons.models import JudgeCalibration
from sandbox.models import UsageRecord
from tests.conftest import make_exercise
from tests.lessons.test_calibrating import LABELLED, judged_exercise

pytestmark = pytest.mark.django_db


def calibrate(*args: str) -> str:
    out = StringIO()
    call_command("calibrate_judge", *args, stdout=out)
    return out.getvalue()


def test_it_prints_the_figures_of_each_judge_criterion():
    exercise = judged_exercise()
    out = calibrate("basics/first/greet")
    row = JudgeCalibration.objects.get()
    assert "basics/first/greet · polite" in out
    assert f"  {row.prompt_version}  " in out
    assert "     6      100%    1.00          0%       0  done (this run)" in out
    assert row.exercise == exercise


def test_it_shows_the_earlier_runs_under_the_new_one():
    judged_exercise()
    calibrate("basics/first/greet")
    out = calibrate("basics/first/greet")
    lines = [line for line in out.splitlines() if line.strip().endswith(("done", "(this run)"))]
    assert len(lines) == 2 and lines[0].endswith("(this run)")


def test_check_passes_a_judge_that_agrees_with_its_labels():
    exercise = judged_exercise()
    calibrate(str(exercise.pk), "--check")


def test_check_fails_on_a_regression_and_names_what_fell_short():
    flipped = [{**label, "met": not label["met"]} for label in LABELLED]
    judged_exercise(labelled=flipped)
    with pytest.raises(CommandError) as failed:
        calibrate("basics", "--check")
    message = str(failed.value)
    assert "basics/first/greet · polite: accuracy 0% is below 90%" in message
    assert "false-pass rate 100% is above 2%" in message
    assert "kappa -1.00 is below 0.80" in message
    # The run is kept all the same, with the outputs it misjudged printed.
    assert JudgeCalibration.objects.get().accuracy == 0.0


def test_check_fails_without_labels_of_both_kinds():
    judged_exercise(labelled=[label for label in LABELLED if label["met"]])
    with pytest.raises(CommandError, match="no output is labelled not met"):
        calibrate("basics/first/greet", "--check")


def test_the_thresholds_can_be_set():
    one_wrong = [*LABELLED, {"output": "Sorry, no.", "met": False}]
    judged_exercise(labelled=one_wrong)
    with pytest.raises(CommandError, match="false-pass rate 25% is above 2%"):
        calibrate("basics/first/greet", "--check")
    calibrate(
        "basics/first/greet",
        "--check",
        "--max-false-pass=0.5",
        "--min-accuracy=0.8",
        "--min-kappa=0.5",
    )


def test_a_misjudged_output_is_printed():
    judged_exercise(labelled=[*LABELLED, {"output": "Sorry, no.", "met": False}])
    out = calibrate("basics/first/greet")
    assert "misjudged (not met, judge passed): 'Sorry, no.'" in out


def test_a_course_path_takes_every_exercise_with_a_judge():
    judged_exercise()
    make_exercise(slug="plain")
    out = calibrate("basics")
    assert "basics/first/greet · polite" in out and "plain" not in out


def test_only_the_named_criterion():
    judged_exercise()
    with pytest.raises(CommandError, match="no judge criterion 'short'"):
        calibrate("basics/first/greet", "--criterion", "short")
    calibrate("basics/first/greet", "--criterion", "polite")
    assert JudgeCalibration.objects.get().criterion_id == "polite"


def test_it_names_an_exercise_it_cannot_find():
    judged_exercise()
    for path in ("basics/first/nope", "999", "a/b/c/d", "basics/first/greet/"):
        if path == "basics/first/greet/":
            calibrate(path)  # a trailing slash is fine
            continue
        with pytest.raises(CommandError):
            calibrate(path)


def test_the_calls_go_on_the_ledger_of_the_user_named(instructor):
    judged_exercise()
    calibrate("basics/first/greet", "--user", "ines")
    assert UsageRecord.objects.filter(learner=instructor).exists()
    assert JudgeCalibration.objects.get().requested_by == instructor
    with pytest.raises(CommandError, match="There is no user 'nobody'"):
        calibrate("basics/first/greet", "--user", "nobody")
