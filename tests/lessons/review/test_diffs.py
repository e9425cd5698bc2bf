"""lessons.review.diffs: side-by-side diffs of two texts, by line and then by word."""

from __future__ import annotations

import random
import string
import time

from lessons.review.diffs import (
    ADDED,
    CHANGED,
    MAX_DIFF_CHARS,
    MAX_DIFF_LINES,
    REMOVED,
    SAME,
    SKIP,
    Segment,
    changes,
    side_by_side,
)


def text_of(segments) -> str:
    return "".join(s.text for s in segments)


def test_two_empty_texts_have_no_rows_and_no_change():
    diff = side_by_side("", "")
    assert diff.rows == () and not diff.changed and not diff.truncated


def test_a_text_against_nothing_is_all_added_and_the_other_way_all_removed():
    added = side_by_side("", "one\ntwo")
    assert [r.kind for r in added.rows] == [ADDED, ADDED]
    assert [(r.left, text_of(r.right), r.right_number) for r in added.rows] == [
        ((), "one", 1),
        ((), "two", 2),
    ]
    removed = side_by_side("one", "")
    assert [(r.kind, text_of(r.left), r.right) for r in removed.rows] == [(REMOVED, "one", ())]
    assert added.changed and removed.changed


def test_identical_texts_are_all_same_rows_not_folded():
    text = "\n".join(f"line {i}" for i in range(20))
    diff = side_by_side(text, text)
    assert not diff.changed
    assert len(diff.rows) == 20 and {r.kind for r in diff.rows} == {SAME}
    assert diff.rows[0].left == diff.rows[0].right == (Segment("line 0", False),)


def test_a_changed_line_marks_only_the_words_that_differ():
    diff = side_by_side("Say hi to Ada.\nBe brief.", "Say hello to Ada.\nBe brief.")
    first, second = diff.rows
    assert first.kind == CHANGED and second.kind == SAME
    assert first.left == (Segment("Say ", False), Segment("hi", True), Segment(" to Ada.", False))
    assert first.right == (
        Segment("Say ", False),
        Segment("hello", True),
        Segment(" to Ada.", False),
    )
    assert (first.left_number, first.right_number) == (1, 1)


def test_more_new_lines_than_old_pair_the_first_and_add_the_rest():
    diff = side_by_side("a b", "a c\nd\ne")
    assert [r.kind for r in diff.rows] == [CHANGED, ADDED, ADDED]
    assert [r.right_number for r in diff.rows] == [1, 2, 3]


def test_long_unchanged_stretches_fold_around_a_change():
    old = "\n".join(f"line {i}" for i in range(30))
    new = old.replace("line 15", "line fifteen")
    kinds = [r.kind for r in side_by_side(old, new).rows]
    # 3 lines of context on each side of the change; the rest folds into two skip rows.
    assert kinds == [SKIP, SAME, SAME, SAME, CHANGED, SAME, SAME, SAME, SKIP]
    skips = [r.skipped for r in side_by_side(old, new).rows if r.kind == SKIP]
    assert skips == [12, 11]


def test_markup_is_kept_as_text_for_the_template_to_escape():
    diff = side_by_side("hello", "<script>alert(1)</script>")
    assert "<script>" in text_of(diff.rows[0].right)


def test_long_texts_are_capped_so_a_diff_takes_bounded_time():
    rng = random.Random(12)

    def noise(n: int) -> str:
        return "".join(rng.choice(string.ascii_lowercase + " \n") for _ in range(n))

    old, new = noise(1_000_000), noise(1_000_000)
    started = time.perf_counter()
    diff = side_by_side(old, new)
    assert time.perf_counter() - started < 2  # about 0.1 s here; uncapped, many minutes
    assert diff.truncated and diff.changed
    assert len(diff.rows) <= 2 * MAX_DIFF_LINES
    # Many short lines: capped by the line count.
    lines = "\n".join("x" for _ in range(MAX_DIFF_CHARS))
    assert side_by_side(lines, lines + "y").truncated
    # Changed lines of many words: word by word within a budget, then each line whole.
    words = "\n".join(" ".join(rng.choice("ab") for _ in range(900)) for _ in range(10))
    other = "\n".join(" ".join(rng.choice("ab") for _ in range(900)) for _ in range(10))
    started = time.perf_counter()
    rows = side_by_side(words, other).rows
    assert time.perf_counter() - started < 1  # about 0.05 s; word by word, 2 s
    assert rows[-1].kind == CHANGED and len(rows[-1].left) == len(rows[-1].right) == 1


def test_changes_lists_only_the_fields_that_differ_including_emptied_ones():
    before = {"System": "Be kind.", "User": "Hi {name}", "Example 1 · user": "old"}
    after = {"System": "Be kind.", "User": "Hello {name}", "Prefill": "Dear"}
    labels = [c.label for c in changes(before, after)]
    assert labels == ["User", "Prefill", "Example 1 · user"]
    assert changes(after, after) == []
