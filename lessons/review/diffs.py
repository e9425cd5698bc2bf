"""Side-by-side diffs of two texts (prompts, outputs) as plain data: rows of line pairs, each
line cut into segments marked changed or not at the word level. Templates render them, so
the learner's text is escaped there, never here. Pure functions, no Django.

    >>> [r.kind for r in side_by_side("Say hi.\\nBe brief.", "Say hello.\\nBe brief.").rows]
    ['changed', 'same']
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass

# SequenceMatcher is quadratic at worst, so each side is cut to MAX_DIFF_CHARS and
# MAX_DIFF_LINES before diffing, and changed lines are compared word by word only while the
# words compared (old × new, summed over the lines) stay within WORD_DIFF_BUDGET; past it a
# changed line is marked changed whole. A diff takes at most some 50 ms, whatever the texts.
MAX_DIFF_CHARS = 20_000
MAX_DIFF_LINES = 400
WORD_DIFF_BUDGET = 400_000
# Unchanged lines kept around a change; longer unchanged stretches fold into one "skip" row.
CONTEXT = 3

WORDS = re.compile(r"\s+|\w+|[^\w\s]")

SAME, CHANGED, ADDED, REMOVED, SKIP = "same", "changed", "added", "removed", "skip"


@dataclass(frozen=True)
class Segment:
    text: str
    changed: bool


@dataclass(frozen=True)
class Row:
    """One line of each side (left: before, right: after); a side without a line is ()."""

    kind: str  # SAME, CHANGED, ADDED (right only), REMOVED (left only), SKIP (folded lines)
    left: tuple[Segment, ...] = ()
    right: tuple[Segment, ...] = ()
    left_number: int | None = None
    right_number: int | None = None
    skipped: int = 0  # for SKIP: how many unchanged lines it stands for


@dataclass(frozen=True)
class TextDiff:
    rows: tuple[Row, ...]
    changed: bool
    truncated: bool  # a side was longer than the caps; only its start was compared


@dataclass(frozen=True)
class FieldChange:
    label: str
    diff: TextDiff


def capped(text: str) -> tuple[list[str], bool]:
    """Return the text's first lines within the caps, and whether anything was cut."""
    cut = text[:MAX_DIFF_CHARS]
    lines = cut.splitlines()
    return lines[:MAX_DIFF_LINES], len(text) > MAX_DIFF_CHARS or len(lines) > MAX_DIFF_LINES


def merged(segments: list[Segment]) -> tuple[Segment, ...]:
    """Join neighbouring segments with the same mark."""
    out: list[Segment] = []
    for segment in segments:
        if not segment.text:
            continue
        if out and out[-1].changed == segment.changed:
            out[-1] = Segment(out[-1].text + segment.text, segment.changed)
        else:
            out.append(segment)
    return tuple(out)


def whole(line: str, changed: bool) -> tuple[Segment, ...]:
    return merged([Segment(line, changed)])


def word_diff(a: list[str], b: list[str]) -> tuple[tuple[Segment, ...], tuple[Segment, ...]]:
    """Return two lines, given as their words, as segments, the words that differ changed."""
    left: list[Segment] = []
    right: list[Segment] = []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        changed = tag != "equal"
        left.append(Segment("".join(a[i1:i2]), changed))
        right.append(Segment("".join(b[j1:j2]), changed))
    return merged(left), merged(right)


def line_rows(a: list[str], b: list[str]) -> list[Row]:
    rows: list[Row] = []
    budget = WORD_DIFF_BUDGET
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            for i, j in zip(range(i1, i2), range(j1, j2), strict=True):
                rows.append(Row(SAME, whole(a[i], False), whole(b[j], False), i + 1, j + 1))
            continue
        paired = min(i2 - i1, j2 - j1) if tag == "replace" else 0
        for k in range(paired):
            old, new = WORDS.findall(a[i1 + k]), WORDS.findall(b[j1 + k])
            budget -= len(old) * len(new)
            if budget >= 0:
                left, right = word_diff(old, new)
            else:
                left, right = whole(a[i1 + k], True), whole(b[j1 + k], True)
            rows.append(Row(CHANGED, left, right, i1 + k + 1, j1 + k + 1))
        for i in range(i1 + paired, i2):
            rows.append(Row(REMOVED, left=whole(a[i], True), left_number=i + 1))
        for j in range(j1 + paired, j2):
            rows.append(Row(ADDED, right=whole(b[j], True), right_number=j + 1))
    return rows


def folded(rows: list[Row], context: int = CONTEXT) -> tuple[Row, ...]:
    """Fold each stretch of unchanged rows longer than the context on both sides into one
    SKIP row (a diff with no change at all is left whole: it is shown as it is)."""
    if all(row.kind == SAME for row in rows):
        return tuple(rows)
    out: list[Row] = []
    start = 0
    while start < len(rows):
        end = start
        while end < len(rows) and rows[end].kind == SAME:
            end += 1
        if end == start:
            out.append(rows[start])
            start += 1
            continue
        keep_before = context if start > 0 else 0
        keep_after = context if end < len(rows) else 0
        if end - start > keep_before + keep_after + 1:
            out.extend(rows[start : start + keep_before])
            out.append(Row(SKIP, skipped=end - start - keep_before - keep_after))
            out.extend(rows[end - keep_after : end])
        else:
            out.extend(rows[start:end])
        start = end
    return tuple(out)


def side_by_side(old: str, new: str) -> TextDiff:
    """Return the diff of two texts, line by line and, within changed lines, word by word."""
    a, cut_a = capped(old)
    b, cut_b = capped(new)
    rows = line_rows(a, b)
    return TextDiff(
        rows=folded(rows),
        changed=old != new,
        truncated=cut_a or cut_b,
    )


def changes(before: Mapping[str, str], after: Mapping[str, str]) -> list[FieldChange]:
    """Return the diff of each labelled text that differs, in the order of `after` then the
    labels only `before` has (a field emptied, an example turn removed)."""
    labels = list(after) + [label for label in before if label not in after]
    return [
        FieldChange(label, side_by_side(before.get(label, ""), after.get(label, "")))
        for label in labels
        if before.get(label, "") != after.get(label, "")
    ]
