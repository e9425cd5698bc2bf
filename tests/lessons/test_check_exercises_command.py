"""manage.py check_exercises [COURSE]: every published exercise's reference solution and
known-bad prompts replayed on its backend (here the stub), drift printed, exit 1 on drift."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from lessons.models import HealthCheck
from sandbox.models import Attempt, UsageRecord
from tests.conftest import STUB, make_exercise

pytestmark = pytest.mark.django_db

SOLUTION = {"user": "Say hello to {name}."}
BAD = {"user": "Talk to {name}."}


def check(*args: str) -> str:
    out = StringIO()
    call_command("check_exercises", *args, stdout=out)
    return out.getvalue()


def test_no_drift_prints_every_check_and_exits_0(instructor):
    make_exercise(solution=SOLUTION, known_bad=[BAD])
    out = check("basics")
    assert "basics: 1 of 1 exercises checked" in out
    assert "first/greet" in out and "reference solution" in out and "known-bad prompt 1" in out
    assert "DRIFT" not in out
    job = HealthCheck.objects.get()
    assert job.status == HealthCheck.DONE and job.drifted == 0
    assert [(r["check"], r["expected"], r["got"]) for r in job.rows] == [
        ("reference solution", "pass", "pass"),
        ("known-bad prompt 1", "fail", "fail"),
    ]
    # Run as the course's instructor, as reference attempts: on their ledger.
    assert set(Attempt.objects.values_list("learner", "is_reference")) == {(instructor.pk, True)}
    assert UsageRecord.objects.filter(learner=instructor).count() == 2


def test_a_model_that_changed_is_drift_and_exits_1(instructor):
    # The provider's model now answers the reference solution as it used to answer a bad one.
    changed = {**STUB, "rules": [], "default": "No."}
    make_exercise(solution=SOLUTION, known_bad=[BAD], stub=changed)
    with pytest.raises(CommandError) as failed:
        check()
    assert "basics/first/greet · reference solution: expected pass, got fail" in str(failed.value)
    job = HealthCheck.objects.get()
    assert job.drifted == 1 and job.rows[0]["drifted"] and not job.rows[1]["drifted"]


def test_a_known_bad_prompt_that_now_passes_is_drift(instructor):
    make_exercise(solution=SOLUTION, known_bad=[SOLUTION])
    with pytest.raises(CommandError, match="known-bad prompt 1: expected fail, got pass"):
        check("basics")


def test_drafts_are_not_checked(instructor):
    make_exercise(solution=SOLUTION)
    make_exercise(slug="draft", status="draft", solution=BAD)
    check("basics")
    assert HealthCheck.objects.get().total == 1


def test_an_unknown_course_or_user_is_an_error(instructor):
    with pytest.raises(CommandError, match="There is no course 'nope'"):
        check("nope")
    with pytest.raises(CommandError, match="There is no user 'nobody'"):
        check("--user=nobody")
