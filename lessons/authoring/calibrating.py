"""Judge calibration: each llm_judge criterion of an exercise asked about outputs whose
verdict instructors know, and measured against them (graders.calibration).

The labels of a criterion are its `labelled` outputs (course files) and instructors'
decisions on it (lessons.review: a decision is the label of its run's output). Each output
is graded with the criterion alone, its `requires` dropped, so other criteria cannot hide
the judge's verdict. The judge is the runner's (sandbox.calls.make_judge); its calls go on
the ledger of the instructor who asked, checked against their budget before each output.
Every run is kept as a JudgeCalibration row, named by the judge's version; it runs in the
worker as a regrade does (lessons.authoring.jobs: claimed with a lease, taken up again by the
reconciler).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import BooleanField, Case, ExpressionWrapper, F, QuerySet, Value, When
from django.utils import timezone

import graders
from graders import calibration
from graders.calibration import Label
from graders.reuse import version
from lessons.authoring import editing, jobs
from lessons.authoring.jobs import Publish
from lessons.authoring.regrading import case_key, grader_case
from lessons.models import Exercise, JudgeCalibration
from lessons.review.models import Decision
from sandbox import limits

log = logging.getLogger(__name__)

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


def decisions_on(exercise: Exercise, criterion: graders.Criterion) -> QuerySet[Decision]:
    return Decision.objects.filter(exercise=exercise, criterion_id=criterion.id)


def decision_labels(exercise: Exercise, criterion: graders.Criterion) -> list[Label]:
    """Return instructors' decisions on this criterion as labels, the latest first; one per
    output and test case (the latest decision stands when several outputs are the same)."""
    decisions = (
        decisions_on(exercise, criterion)
        .select_related("run__case", "run__attempt")
        .order_by("-decided_at", "-id")
    )
    reads_prefill = exercise.parsed_rubric.model_criteria[criterion.id].reads_prefill
    labels: dict[tuple[str, object], Label] = {}
    prefills: dict[tuple[object, int | None], str] = {}  # decisions share attempts and cases
    for decision in decisions.iterator(chunk_size=100):
        run = decision.run
        key = (run.output, case_key(run))
        if key in labels:
            continue
        case = grader_case(run)
        prefill = ""
        if reads_prefill:
            if (run.attempt_id, run.case_id) not in prefills:
                attempt = run.attempt
                submission = exercise.grader_submission(
                    attempt.fields(), attempt.examples, run.case
                )
                prefills[run.attempt_id, run.case_id] = submission.rendered_field("prefill")
            prefill = prefills[run.attempt_id, run.case_id]
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


def decided_outputs(exercise: Exercise, criterion: graders.Criterion) -> int:
    """Return how many labels decision_labels makes, counted by the database: the distinct
    outputs and test cases decided on (a deleted case by its name), MAX_DECISION_LABELS at
    most."""
    deleted_case = Case(When(run__case__isnull=True, then=F("run__case_name")), default=Value(""))
    decided = (
        decisions_on(exercise, criterion)
        .annotate(deleted_case=deleted_case)
        .order_by()
        .values("run__output", "run__case_id", "deleted_case")
        .distinct()
    )
    return decided[:MAX_DECISION_LABELS].count()


def labels_of(exercise: Exercise, criterion: graders.Criterion) -> list[Label]:
    """Return every label of a judge criterion: its course file's, then instructors'."""
    return calibration.labelled(criterion) + decision_labels(exercise, criterion)


def judge_calls_at_most(exercise: Exercise) -> int:
    """Return the most judge calls calibrating its judges would make (what a budget may be
    charged): each label's most calls, labels counted without being built."""
    total = 0
    for criterion in judges(exercise):
        per_label = graders.judge_calls_at_most(calibration.alone(criterion.to_dict()), [{}])
        labels = len(calibration.labelled(criterion)) + decided_outputs(exercise, criterion)
        total += per_label * labels
    return total


# What the calibration page leaves out of its rows (the latest run of each criterion aside).
LARGE_FIELDS = ("criterion", "labels", "outcomes")


def running(exercise: Exercise) -> list[JudgeCalibration]:
    """Return the exercise's calibrations under way: queued, or running within their lease
    (one whose worker died waits for the reconciler and blocks nothing)."""
    under_way = exercise.calibrations.filter(
        status__in=(JudgeCalibration.QUEUED, JudgeCalibration.RUNNING)
    )
    return list(under_way.exclude(jobs.lease_expired(timezone.now())).defer(*LARGE_FIELDS))


UNDER_WAY = "A calibration of this exercise is under way; wait for it to finish."


def refusal(running: list[JudgeCalibration], user) -> str:
    """Return why this instructor may not start a calibration now (with these under way),
    or ""."""
    if running:
        return UNDER_WAY
    return limits.budget_refusal(user)


def create(exercise: Exercise, user, criterion_id: str | None = None) -> list[JudgeCalibration]:
    """Save one queued calibration per judge criterion (or the one named), with its labels
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
    """Save the calibrations (create), each published once the transaction commits, unless
    one is under way (CalibrationError): two clicks at once would judge every label twice.
    Those whose worker died are stopped: the new ones replace them."""
    with transaction.atomic():
        jobs.one_at_a_time(exercise)
        if running(exercise):
            raise CalibrationError(UNDER_WAY)
        jobs.replace_stalled(exercise.calibrations.all(), "calibration")
        rows = create(exercise, user)
        for row in rows:
            jobs.publish_on_commit(publish, row.pk)
    return rows


def calibrate(
    exercise: Exercise, criterion_id: str | None = None, user=None
) -> list[JudgeCalibration]:
    """Calibrate the exercise's judge criteria (or the one named) here and now; return the
    finished rows. With a user, the judge's calls go on their ledger, within their budget.
    Each row runs as in the worker, here handing over to itself."""
    rows = create(exercise, user, criterion_id)
    for row in rows:
        handed = [row.pk]
        while handed:
            run(handed.pop(), publish=handed.append)
    return list(JudgeCalibration.objects.filter(pk__in=[r.pk for r in rows]).order_by("id"))


ACCOUNT_GONE = (
    "no longer has an account, and its judge calls would be on nobody's budget. Run it again."
)


def run(calibration_id: int, publish: Publish) -> None:
    """Judge every label of a calibration not judged yet, in order, then save its figures.

    A delivery claims it (jobs.take) and saves each output's outcome as it is judged,
    renewing its lease, while it holds it. A delivery that has worked half the task's soft
    time limit (after one output at least) hands the rest to a fresh message; each output's
    judge calls end by the delivery's deadline. Over the instructor's budget, it stops with
    an error saying how far it got.
    """
    taken = jobs.take(JudgeCalibration, calibration_id)
    if taken is None:
        return
    row, held = taken
    started = time.monotonic()
    deadline = started + settings.ATTEMPT_SOFT_TIME_LIMIT
    outcomes = list(row.outcomes)
    try:
        rubric = calibration.alone(row.criterion)
        for index, data in enumerate(row.labels[len(outcomes) :]):
            judged = f"{len(outcomes)} of {row.n} outputs judged, then"
            # Before a hand-over: the next delivery reads no instructor then (set to null), as
            # a command's calibration has, and would judge the rest on nobody's budget.
            if row.requested_by_id and not User.objects.filter(pk=row.requested_by_id).exists():
                jobs.stop(held, f"{judged} the instructor who asked for it {ACCOUNT_GONE}")
                return
            if index and time.monotonic() > started + settings.ATTEMPT_SOFT_TIME_LIMIT / 2:
                jobs.hand_over(held, row.pk, publish)
                return
            refused = limits.budget_refusal(row.requested_by_id) if row.requested_by_id else ""
            if refused:
                jobs.stop(held, f"{judged}: {refused}")
                return
            with editing.judge_on_ledger(
                row.exercise, row.requested_by_id, deadline=deadline
            ) as judge:
                result = calibration.judge_label(rubric, Label.from_dict(data), judge)
            outcomes.append([calibration.outcome(result), result.detail])
            saved = held.filter(done=len(outcomes) - 1).update(
                outcomes=outcomes, done=len(outcomes), lease_expires_at=jobs.lease_end()
            )
            if not saved:
                log.info("calibration %s was taken over by another delivery", calibration_id)
                return
    except Exception as e:
        log.exception("calibration %s failed", calibration_id)
        jobs.stop(held, str(e) or type(e).__name__)
        return
    row.outcomes = outcomes
    figures = row.figures()
    held.update(
        status=JudgeCalibration.DONE,
        accuracy=figures.accuracy,
        kappa=figures.kappa,
        false_pass_rate=figures.false_pass_rate,
        needs_review=figures.needs_review,
        finished_at=timezone.now(),
    )


def reconcile(publish: Publish) -> int:
    """Publish again the calibrations a lost message or a dead worker left behind."""
    return jobs.reconcile(JudgeCalibration, publish)


@dataclass
class CriterionReport:
    """A judge criterion's calibrations, newest first, for the exercise page."""

    criterion_id: str
    current_version: str  # "" when the criterion is no longer in the rubric
    runs: list[JudgeCalibration] = field(default_factory=list)


def report(exercise: Exercise, limit: int = 50) -> list[CriterionReport]:
    """Return the exercise's latest calibrations by criterion: the rubric's judge criteria
    first, in rubric order (also those never calibrated), then criteria since removed. Each
    row says whether its worker died (`stalled`); only the latest of each criterion carries
    its labels and outcomes (for its misjudged outputs)."""
    current = {c.id: judge_version(exercise, c) for c in judges(exercise)}
    reports = {cid: CriterionReport(cid, version) for cid, version in current.items()}
    stalled = ExpressionWrapper(jobs.lease_expired(timezone.now()), output_field=BooleanField())
    rows = (
        exercise.calibrations.select_related("requested_by")
        .defer(*LARGE_FIELDS)
        .annotate(stalled=stalled)
    )
    for row in rows[:limit]:
        reports.setdefault(row.criterion_id, CriterionReport(row.criterion_id, "")).runs.append(row)
    latest = {report.runs[0].pk: report.runs[0] for report in reports.values() if report.runs}
    judged = JudgeCalibration.objects.filter(pk__in=latest).values_list("pk", "labels", "outcomes")
    for pk, labels, outcomes in judged:
        latest[pk].labels, latest[pk].outcomes = labels, outcomes
    return list(reports.values())
