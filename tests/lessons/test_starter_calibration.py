"""CI's calibration of the starter course: every starter judge criterion carries labelled outputs
of both kinds, injected ones among those not met, and on the stub's scripted judges it passes
`manage.py calibrate_judge --check`. A change to the judge protocol, the personas or a starter
judge exercise that makes a judge disagree with its labels fails here."""

from __future__ import annotations

from io import StringIO

import pytest
import yaml
from django.core.management import call_command

from lessons.authoring.coursefiles import load_course
from lessons.models import JudgeCalibration
from tests.conftest import STARTER

JUDGES = [
    (path.stem, criterion)
    for path in sorted((STARTER / "exercises").glob("*.yaml"))
    for criterion in yaml.safe_load(path.read_text())["rubric"]["criteria"]
    if criterion["kind"] == "llm_judge"
]


def test_the_course_has_two_judge_exercises_at_least():
    assert len({exercise for exercise, _ in JUDGES}) >= 2


@pytest.mark.parametrize(
    ("exercise", "criterion"), JUDGES, ids=[f"{e}-{c['id']}" for e, c in JUDGES]
)
def test_each_judge_has_ten_labels_of_both_kinds_with_injections_not_met(exercise, criterion):
    labelled = criterion["params"].get("labelled", [])
    assert len(labelled) >= 10
    met = [label for label in labelled if label["met"]]
    assert 0 < len(met) < len(labelled)
    assert any("inject" in label.get("note", "") and not label["met"] for label in labelled)


def test_the_starter_judges_pass_the_calibration_check(db):
    load_course(STARTER)
    out = StringIO()
    call_command("calibrate_judge", "prompt-fundamentals", "--check", stdout=out)
    rows = JudgeCalibration.objects.all()
    assert rows.count() == len(JUDGES)
    assert {row.status for row in rows} == {JudgeCalibration.DONE}
    assert all(row.false_pass_rate == 0 for row in rows), out.getvalue()
