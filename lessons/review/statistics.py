"""The numbers of the exercise statistics page, computed from Progress rows and instructors'
decisions by plain functions: medians, the score histogram and its chart, per-case pass rates,
failure groups merged across learners, and how often the judge agreed with instructors."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, NamedTuple

from graders.calibration import accuracy, cohen_kappa, rate
from graders.reuse import subtree
from graders.rubric import Criterion, Rubric


def median(values: Sequence[float]) -> float | None:
    """Return the median of the values, None when there are none."""
    return statistics.median(values) if values else None


def as_percent(share: float | None) -> int | None:
    """Return a share (0 to 1) as a whole percentage, None for None."""
    return None if share is None else round(share * 100)


def histogram(scores: Iterable[float], bins: int = 10) -> list[int]:
    """Return how many scores (0 to 1) fall in each of `bins` equal bins; a full score is in
    the last one. A score counts in the bin of its percentage as the pages round it, so a
    learner shown 70% is in the 70–80% bin."""
    counts = [0] * bins
    for score in scores:
        percent = min(max(round(score * 100), 0), 100)
        counts[min(percent * bins // 100, bins - 1)] += 1
    return counts


@dataclass(frozen=True)
class Bar:
    """One bar of the histogram chart, in the chart's own units (see histogram_chart)."""

    low: int  # percent
    high: int
    count: int
    x: float
    y: float
    width: float
    height: float

    @property
    def center(self) -> float:
        return round(self.x + self.width / 2, 2)


@dataclass(frozen=True)
class Chart:
    bars: list[Bar]
    ticks: list[tuple[float, int]]  # (y, count) of the horizontal grid lines
    edges: list[tuple[float, int]]  # (x, percent) of the bins' edges, for the score axis
    width: int
    height: int
    left: int  # where the plot starts: room for the count axis' labels
    right: int  # where it ends
    top: int
    bottom: int  # the y of the score axis
    top_count: int

    @property
    def middle(self) -> float:
        return (self.left + self.right) / 2


def nice_top(largest: int) -> int:
    """Return the count the chart's axis goes up to: the largest count itself up to 5, else
    the smallest 1, 2 or 5 times a power of ten above it, so a fifth of it is a round step."""
    if largest <= 5:
        return max(largest, 1)
    power = 10
    while True:
        for factor in (1, 2, 5):
            if largest <= factor * power:
                return factor * power
        power *= 10


def histogram_chart(counts: Sequence[int], width: int = 640, height: int = 300) -> Chart:
    """Return the geometry of a bar chart of a histogram's counts; the template draws it."""
    left, right, top, bottom = 56, width - 24, 36, height - 56
    top_count = nice_top(max(counts, default=0))
    bins = max(len(counts), 1)
    slot = (right - left) / bins
    step = 100 / bins
    bars = []
    for index, count in enumerate(counts):
        bar_height = (bottom - top) * count / top_count
        bars.append(
            Bar(
                low=round(index * step),
                high=round((index + 1) * step),
                count=count,
                x=round(left + index * slot + slot * 0.1, 2),
                y=round(bottom - bar_height, 2),
                width=round(slot * 0.8, 2),
                height=round(bar_height, 2),
            )
        )
    tick_step = top_count // 5 if top_count > 5 else 1
    ticks = [
        (round(bottom - (bottom - top) * n / top_count, 2), n)
        for n in range(0, top_count + 1, tick_step)
    ]
    edges = [(round(left + index * slot, 2), round(index * step)) for index in range(bins + 1)]
    return Chart(bars, ticks, edges, width, height, left, right, top, bottom, top_count)


@dataclass
class FailureGroup:
    criteria: tuple[str, ...]
    count: int  # failing attempts
    attempt: str  # a sample: the attempt of the learner with the most attempts in the group
    sample_count: int = field(default=0, repr=False)
    # The criteria its attempts wait for a person on: not failed yet, whatever `criteria`.
    waiting: tuple[str, ...] = ()
    # Its attempts failed no criterion: an instructor's override failed them.
    overridden: bool = False


def merge_failure_groups(rows: Iterable[Sequence[Mapping[str, Any]]]) -> list[FailureGroup]:
    """Merge the failure groups of many Progress rows: counts summed per set of criteria
    (failed, and waiting for review; or none, failed by an override), largest first (ties by
    criteria), each with a sample attempt from the learner who failed that way most often
    (the first of them in `rows`)."""
    groups: dict[tuple[tuple[str, ...], tuple[str, ...], bool], FailureGroup] = {}
    for row in rows:
        for group in row:
            criteria, waiting = sorted(group["criteria"]), sorted(group.get("waiting", ()))
            key = tuple(criteria), tuple(waiting), bool(group.get("overridden"))
            merged = groups.get(key)
            if merged is None:
                merged = groups[key] = FailureGroup(
                    key[0], 0, group["attempt"], group["count"], waiting=key[1], overridden=key[2]
                )
            elif group["count"] > merged.sample_count:
                merged.attempt, merged.sample_count = group["attempt"], group["count"]
            merged.count += group["count"]
    return sorted(groups.values(), key=lambda g: (-g.count, g.criteria, g.waiting, g.overridden))


def criteria_waiting(groups: Iterable[FailureGroup]) -> list[tuple[str, int]]:
    """Return (criterion id, attempts not passed that wait for review on it), most first."""
    return most_first((criterion, g.count) for g in groups for criterion in g.waiting)


def criteria_most_failed(groups: Iterable[FailureGroup]) -> list[tuple[str, int]]:
    """Return (criterion id, failing attempts in which it failed), most failed first."""
    return most_first((criterion, g.count) for g in groups for criterion in g.criteria)


def most_first(counted: Iterable[tuple[str, int]]) -> list[tuple[str, int]]:
    """Sum the counts per criterion id; the largest first, ties by id."""
    counts: Counter[str] = Counter()
    for criterion_id, count in counted:
        counts[criterion_id] += count
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def case_totals(rows: Iterable[Mapping[str, Sequence[int]]]) -> dict[str, tuple[int, int]]:
    """Sum the case_results of many Progress rows: {case id: (runs passed, runs)}."""
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row in rows:
        for case_id, (passed, runs) in row.items():
            totals[case_id][0] += passed
            totals[case_id][1] += runs
    return {case_id: (passed, runs) for case_id, (passed, runs) in totals.items()}


@dataclass(frozen=True)
class Agreement:
    """How often one version of a judge agreed with instructors' decisions."""

    version: str
    current: bool
    labels: int  # decisions on this criterion's outputs graded by this version
    judged: int  # of which the judge had a verdict (it was not "needs review")
    accuracy: float | None
    kappa: float | None

    @property
    def accuracy_percent(self) -> int | None:
        return as_percent(self.accuracy)


def agreement(labels: Iterable[tuple[str, bool | None, bool]], current: str) -> list[Agreement]:
    """Return per judge version the agreement of the judge's verdicts with instructors' on
    (version, judge passed or None, instructor's met) labels; the current version first,
    then by labels, most first."""
    by_version: dict[str, list[tuple[bool | None, bool]]] = defaultdict(list)
    for version, judge, human in labels:
        by_version[version].append((judge, human))
    rows = []
    for version, pairs in by_version.items():
        judged = [(judge, human) for judge, human in pairs if judge is not None]
        rows.append(
            Agreement(
                version=version,
                current=version == current,
                labels=len(pairs),
                judged=len(judged),
                accuracy=accuracy(judged),
                kappa=cohen_kappa(judged),
            )
        )
    return sorted(rows, key=lambda a: (not a.current, -a.labels, a.version))


def criterion_text(criterion: Criterion) -> str:
    """Return what the rubric says of a criterion in words: the feedback a learner reads when
    it fails (or passes), else the items its judges are asked about."""
    if criterion.on_fail or criterion.on_pass:
        return criterion.on_fail or criterion.on_pass
    items = [
        str(item)
        for node in subtree(criterion)
        if node.kind == "llm_judge"
        for item in node.params.get("items", [])
    ]
    return " · ".join(items)


def criterion_texts(rubric: Rubric) -> dict[str, str]:
    """Return criterion_text of each of the rubric's top-level criteria, by id."""
    return {criterion.id: criterion_text(criterion) for criterion in rubric.criteria}


class ProgressRow(NamedTuple):
    """The columns of a Progress row the statistics read (values_list(*ProgressRow._fields))."""

    attempts: int
    best_score: float | None
    passed: bool
    first_try_passed: bool
    attempts_to_pass: int | None
    input_tokens: int
    output_tokens: int
    cost_usd: Decimal
    case_results: Mapping[str, Sequence[int]]
    failure_groups: Sequence[Mapping[str, Any]]


@dataclass(frozen=True)
class ExerciseSummary:
    """An exercise's figures over a group of learners' Progress rows."""

    attempts: int
    tried: int  # learners with a graded attempt
    passed: int
    first_try_passed: int
    median_attempts_to_pass: float | None
    histogram: list[int]  # of the best score of each learner who tried
    cases: dict[str, tuple[int, int]]
    failure_groups: list[FailureGroup]  # of the attempts that failed
    waiting_groups: list[FailureGroup]  # of those not passed that wait for review: not failed
    input_tokens: int
    output_tokens: int
    cost_usd: Decimal

    @property
    def pass_percent(self) -> int | None:
        return as_percent(rate(self.passed, self.tried))

    @property
    def first_try_percent(self) -> int | None:
        return as_percent(rate(self.first_try_passed, self.tried))

    @property
    def failing_attempts(self) -> int:
        return sum(group.count for group in self.failure_groups)

    @property
    def waiting_attempts(self) -> int:
        return sum(group.count for group in self.waiting_groups)


def summarize_progress(rows: Sequence[ProgressRow]) -> ExerciseSummary:
    """Return the figures of an exercise over its learners' Progress rows; the tokens and
    cost count every row, the rest only the learners with a graded attempt."""
    tried = [row for row in rows if row.attempts]
    groups = merge_failure_groups(row.failure_groups for row in tried)
    return ExerciseSummary(
        attempts=sum(row.attempts for row in tried),
        tried=len(tried),
        passed=sum(row.passed for row in tried),
        first_try_passed=sum(row.first_try_passed for row in tried),
        median_attempts_to_pass=median(
            [row.attempts_to_pass for row in tried if row.attempts_to_pass is not None]
        ),
        histogram=histogram(row.best_score for row in tried if row.best_score is not None),
        cases=case_totals(row.case_results for row in tried),
        failure_groups=[group for group in groups if not group.waiting],
        waiting_groups=[group for group in groups if group.waiting],
        input_tokens=sum(row.input_tokens for row in rows),
        output_tokens=sum(row.output_tokens for row in rows),
        cost_usd=sum((row.cost_usd for row in rows), Decimal(0)),
    )
