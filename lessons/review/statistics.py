"""The numbers of the exercise statistics page, computed from Progress rows and instructors'
decisions by plain functions: medians, the score histogram and its chart, per-case pass rates,
failure groups merged across learners, and how often the judge agreed with instructors."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from graders.reuse import subtree
from graders.rubric import Criterion, Rubric


def median(values: Sequence[float]) -> float | None:
    """Return the median of the values, None when there are none."""
    return statistics.median(values) if values else None


def rate(part: int, whole: int) -> float | None:
    """Return part / whole, None when whole is 0 (a rate of nothing is no rate)."""
    return part / whole if whole else None


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


@dataclass(frozen=True)
class Chart:
    bars: list[Bar]
    ticks: list[tuple[float, int]]  # (y, count) of the horizontal grid lines
    width: int
    height: int
    left: int  # where the plot starts: room for the count axis' labels
    bottom: int  # the y of the score axis
    top_count: int


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


def histogram_chart(counts: Sequence[int], width: int = 640, height: int = 240) -> Chart:
    """Return the geometry of a bar chart of a histogram's counts; the template draws it."""
    left, right, top, bottom_margin = 44, 8, 10, 36
    bottom = height - bottom_margin
    plot_height = bottom - top
    top_count = nice_top(max(counts, default=0))
    slot = (width - left - right) / max(len(counts), 1)
    step = 100 // max(len(counts), 1)
    bars = []
    for index, count in enumerate(counts):
        bar_height = plot_height * count / top_count
        bars.append(
            Bar(
                low=index * step,
                high=100 if index == len(counts) - 1 else (index + 1) * step,
                count=count,
                x=round(left + index * slot + slot * 0.1, 2),
                y=round(bottom - bar_height, 2),
                width=round(slot * 0.8, 2),
                height=round(bar_height, 2),
            )
        )
    tick_step = top_count // 5 if top_count > 5 else 1
    ticks = [
        (round(bottom - plot_height * n / top_count, 2), n)
        for n in range(0, top_count + 1, tick_step)
    ]
    return Chart(bars, ticks, width, height, left, bottom, top_count)


def accuracy(pairs: Iterable[tuple[bool, bool]]) -> float | None:
    """Return the share of (judge, human) pairs that agree, None when there are none."""
    pairs = list(pairs)
    return rate(sum(judge == human for judge, human in pairs), len(pairs))


def cohen_kappa(pairs: Iterable[tuple[bool, bool]]) -> float | None:
    """Return Cohen's kappa of two raters' yes/no verdicts on the same items, the judge's and
    an instructor's: agreement beyond what chance gives. None when it is undefined: no pairs,
    or both raters put every item in the same class (chance agreement is then 1)."""
    pairs = list(pairs)
    if not pairs:
        return None
    n = len(pairs)
    observed = sum(a == b for a, b in pairs) / n
    first_yes = sum(a for a, _ in pairs) / n
    second_yes = sum(b for _, b in pairs) / n
    chance = first_yes * second_yes + (1 - first_yes) * (1 - second_yes)
    if chance >= 1:
        return None
    return (observed - chance) / (1 - chance)


@dataclass
class FailureGroup:
    criteria: tuple[str, ...]
    count: int  # failing attempts
    attempt: str  # a sample: the attempt of the learner with the most attempts in the group
    sample_count: int = field(default=0, repr=False)


def merge_failure_groups(rows: Iterable[Sequence[Mapping[str, Any]]]) -> list[FailureGroup]:
    """Merge the failure groups of many Progress rows: counts summed per set of criteria,
    largest first (ties by criteria), each with a sample attempt from the learner who failed
    that way most often."""
    groups: dict[tuple[str, ...], FailureGroup] = {}
    for row in rows:
        for group in row:
            key = tuple(sorted(group["criteria"]))
            merged = groups.get(key)
            if merged is None:
                merged = groups[key] = FailureGroup(key, 0, group["attempt"], group["count"])
            elif group["count"] > merged.sample_count:
                merged.attempt, merged.sample_count = group["attempt"], group["count"]
            merged.count += group["count"]
    return sorted(groups.values(), key=lambda g: (-g.count, g.criteria))


def criteria_most_failed(groups: Iterable[FailureGroup]) -> list[tuple[str, int]]:
    """Return (criterion id, failing attempts in which it failed), most failed first."""
    counts: Counter[str] = Counter()
    for group in groups:
        for criterion_id in group.criteria:
            counts[criterion_id] += group.count
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
