"""Judge calibration: each llm_judge criterion of an exercise asked about outputs whose
verdict instructors know, and measured against them (graders.calibration).

The labels of a criterion are its `labelled` outputs (course files) and instructors'
decisions on it (lessons.review: a decision is the label of its run's output). Each output
is graded with the criterion alone, its `requires` dropped, so other criteria cannot hide
the judge's verdict. The judge is the runner's (sandbox.calls.make_judge); its calls go on
the ledger of the instructor who asked, checked against their budget before each output.
Every run is kept as a JudgeCalibration row, named by the judge's prompt version.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

import graders
from graders import calibration
from graders.calibration import Label
from graders.reuse import version
from lessons.authoring import editing
from lessons.models import Exercise, JudgeCalibration
from lessons.review.models import Decision
from sandbox import limits

log = logging.getLogger(__name__)

Publish = Callable[[int], object]

# The most recent decisions taken as labels of one criterion: each costs judge calls.
MAX_DECISION_LABELS = 200


class CalibrationError(ValueError):
    """The calibration asked for cannot run; the message says why."""


def judges(exercise: Exercise) -> list[graders.Criterion]:
    """Return the exercise's top-level llm_judge criteria: those a calibration measures (a
    judge inside a composite criterion is not calibrated alone)."""
    return [c for c in exercise.parsed_rubric.criteria if c.kind == "llm_judge"]


def judge_version(exercise: Exercise, criterion: graders.Criterion) -> str:
    """Return the version a calibration of this criterion is kept under: the one its
    instructors' decisions carry (graders.reuse.version of its definition)."""
    return version(exercise.parsed_rubric.model_criteria[criterion.id].definition)


def judge_criteria(exercise: Exercise, criterion_id: str | None = None) -> list[graders.Criterion]:
    """Return judges(), or the one named; raise CalibrationError when there is none."""
    found = judges(exercise)
    if criterion_id is not None:
        found = [c for c in found if c.id == criterion_id]
        if not found:
            raise CalibrationError(f"The rubric has no judge criterion {criterion_id!r}.")
    if not found:
        raise CalibrationError("The rubric has no judge criterion to calibrate.")
    return found


def decision_labels(exercise: Exercise, criterion: graders.Criterion) -> list[Label]:
    """Return instructors' decisions on this criterion as labels, the latest first; one per
    output and test case (the latest decision stands when several outputs are the same)."""
    decisions = (
        Decision.objects.filter(exercise=exercise, criterion_id=criterion.id)
        .select_related("run__case", "run__attempt")
        .order_by("-decided_at", "-id")
    )
    reads_prefill = exercise.parsed_rubric.model_criteria[criterion.id].reads_prefill
    labels: dict[tuple[str, Any], Label] = {}
    for decision in decisions.iterator(chunk_size=100):
        run = decision.run
        key = (run.output, run.case_id or run.case_name)
        if key in labels:
            continue
        case = run.case.as_grader_case() if run.case else graders.Case(name=run.case_name)
        prefill = ""
        if reads_prefill:
            attempt = run.attempt
            submission = exercise.grader_submission(attempt.fields(), attempt.examples, run.case)
            prefill = submission.rendered_field("prefill")
        labels[key] = Label(
            output=run.output,
            met=decision.met,
            expected=case.expected,
            reference=case.reference,
            variables=case.variables,
            prefill=prefill,
            note=decision.note,
            source=f"decision on attempt {run.attempt_id}, {run.case_name}",
        )
        if len(labels) == MAX_DECISION_LABELS:
            break
    return list(labels.values())


def labels_of(exercise: Exercise, criterion: graders.Criterion) -> list[Label]:
    """Return every label of a judge criterion: its course file's, then instructors'."""
    return calibration.labelled(criterion) + decision_labels(exercise, criterion)


def judge_calls_at_most(exercise: Exercise) -> int:
    """Return the most judge calls calibrating its judges would make (what a budget may be
    charged)."""
    total = 0
    for criterion in judges(exercise):
        rubric = calibration.alone(criterion.to_dict())
        total += graders.judge_calls_at_most(rubric, [{}] * len(labels_of(exercise, criterion)))
    return total


def running(exercise: Exercise) -> list[JudgeCalibration]:
    """Return the exercise's calibrations still under way (not stalled)."""
    rows = exercise.calibrations.filter(status=JudgeCalibration.RUNNING)
    return [row for row in rows if not row.stalled]


def refusal(exercise: Exercise, user) -> str:
    """Return why this instructor may not start a calibration now, or ""."""
    if running(exercise):
        return "A calibration of this exercise is under way; wait for it to finish."
    return limits.budget_refusal(user)


def create(exercise: Exercise, user, criterion_id: str | None = None) -> list[JudgeCalibration]:
    """Save one running calibration per judge criterion (or the one named), with its labels
    and its definition as they are now: what it measures cannot change under it."""
    rows = []
    for criterion in judge_criteria(exercise, criterion_id):
        labels = [label.to_dict() for label in labels_of(exercise, criterion)]
        rows.append(
            JudgeCalibration(
                exercise=exercise,
                criterion_id=criterion.id,
                prompt_version=judge_version(exercise, criterion),
                criterion=criterion.to_dict(),
                labels=labels,
                n=len(labels),
                requested_by=user,
            )
        )
    return JudgeCalibration.objects.bulk_create(rows)


def start(exercise: Exercise, user, publish: Publish) -> list[JudgeCalibration]:
    """Save the calibrations (create), each published once the transaction commits."""
    with transaction.atomic():
        rows = create(exercise, user)
        for row in rows:
            transaction.on_commit(functools.partial(publish, row.pk), robust=True)
    return rows


def calibrate(
    exercise: Exercise, criterion_id: str | None = None, user=None
) -> list[JudgeCalibration]:
    """Calibrate the exercise's judge criteria (or the one named) here and now; return the
    finished rows. With a user, the judge's calls go on their ledger, within their budget."""
    rows = create(exercise, user, criterion_id)
    for row in rows:
        run(row.pk)
    return list(JudgeCalibration.objects.filter(pk__in=[r.pk for r in rows]).order_by("id"))


def run(calibration_id: int, publish: Publish | None = None) -> None:
    """Judge every label of a calibration not judged yet, in order, then save its figures.

    Each output's outcome is saved as it is judged, if the row still has the count this
    delivery read (else another delivery is ahead, and this one stops). With `publish` (the
    task), a delivery that has worked half the task's soft time limit (after one output at
    least) hands the rest to a fresh message. Over the instructor's budget, it stops with
    an error saying how far it got.
    """
    row = (
        JudgeCalibration.objects.select_related("exercise", "requested_by")
        .filter(pk=calibration_id, status=JudgeCalibration.RUNNING)
        .first()
    )
    if row is None:
        log.info("calibration %s is not running; nothing to do", calibration_id)
        return
    hand_over_at = time.monotonic() + settings.ATTEMPT_SOFT_TIME_LIMIT / 2
    outcomes = list(row.outcomes)
    try:
        rubric = calibration.alone(row.criterion)
        for index, data in enumerate(row.labels[len(outcomes) :]):
            if index and publish and time.monotonic() > hand_over_at:
                publish(row.pk)
                return
            refused = limits.budget_refusal(row.requested_by) if row.requested_by else ""
            if refused:
                stop(row, f"{len(outcomes)} of {row.n} outputs judged, then: {refused}")
                return
            with editing.judge_on_ledger(row.exercise, row.requested_by_id) as judge:
                result = calibration.judge_label(rubric, Label.from_dict(data), judge)
            outcomes.append([calibration.outcome(result), result.detail])
            if not progress(row, outcomes):
                log.info("calibration %s was taken over by another delivery", calibration_id)
                return
    except Exception as e:
        log.exception("calibration %s failed", calibration_id)
        stop(row, str(e) or type(e).__name__)
        return
    row.outcomes = outcomes
    figures = row.figures()
    held(row, len(outcomes)).update(
        status=JudgeCalibration.DONE,
        accuracy=figures.accuracy,
        kappa=figures.kappa,
        false_pass_rate=figures.false_pass_rate,
        needs_review=figures.needs_review,
        finished_at=timezone.now(),
    )


def held(row: JudgeCalibration, done: int):
    """Return the row as long as it is running with `done` outputs judged."""
    return JudgeCalibration.objects.filter(pk=row.pk, status=JudgeCalibration.RUNNING, done=done)


def progress(row: JudgeCalibration, outcomes: list[list[str]]) -> bool:
    """Save one more judged output; return False if another delivery saved it first."""
    return bool(
        held(row, len(outcomes) - 1).update(
            outcomes=outcomes, done=len(outcomes), updated_at=timezone.now()
        )
    )


def stop(row: JudgeCalibration, error: str) -> None:
    JudgeCalibration.objects.filter(pk=row.pk, status=JudgeCalibration.RUNNING).update(
        status=JudgeCalibration.ERROR, error=error, finished_at=timezone.now()
    )


@dataclass
class CriterionReport:
    """A judge criterion's calibrations, newest first, for the exercise page."""

    criterion_id: str
    current_version: str  # "" when the criterion is no longer in the rubric
    runs: list[JudgeCalibration] = field(default_factory=list)


def report(exercise: Exercise, limit: int = 50) -> list[CriterionReport]:
    """Return the exercise's latest calibrations by criterion: the rubric's judge criteria
    first, in rubric order (also those never calibrated), then criteria since removed."""
    current = {c.id: judge_version(exercise, c) for c in judges(exercise)}
    reports = {cid: CriterionReport(cid, version) for cid, version in current.items()}
    for row in exercise.calibrations.all()[:limit]:
        reports.setdefault(row.criterion_id, CriterionReport(row.criterion_id, "")).runs.append(row)
    return list(reports.values())
