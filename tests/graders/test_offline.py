"""graders.offline: what the stub model reads in a prompt it has no rules for."""

from __future__ import annotations

import pytest

from graders.offline import answer, formats, set_apart


def test_it_is_labelled_and_deterministic():
    text = answer("You are a support agent.", "Reply to the customer.")
    assert text.startswith("Offline stub model: it has no rules for this prompt")
    assert text == answer("You are a support agent.", "Reply to the customer.")


def test_two_prompts_read_differently():
    bare = answer("", "Write about refunds")
    careful = answer(
        "You are a support agent. Never promise dates.",
        'Reply in at most 40 words, as JSON.\n"""\nWhere is my refund?\n"""',
    )
    assert "- Role: none" in bare and "- Role: “You are a support agent.”" in careful
    assert "- Task: “Write about refunds”" in bare
    assert "- Task: “Reply in at most 40 words, as JSON.”" in careful
    assert "Answer shape asked for: none" in bare
    assert "Answer shape asked for: JSON, at most 40 words." in careful
    assert "set apart: no" in bare and 'set apart: yes, inside """ fences.' in careful
    assert "- Length: 3 words (a real model would count about 5 tokens)." in bare


@pytest.mark.parametrize(
    ("prompt", "shape"),
    [
        ("Give me a bulleted list", ["a list"]),
        ("Answer in ONE word", ["one word"]),
        ("a table please, under 5 lines", ["a table", "at most 5 lines"]),
        ("Tell me a story", []),
    ],
)
def test_it_names_the_answer_shape_asked_for(prompt, shape):
    assert formats(prompt) == shape


def test_a_tag_sets_input_apart_only_when_it_is_closed():
    assert set_apart("Classify:\n<ticket>\nMy card broke\n</ticket>") == "<ticket>…</ticket>"
    assert set_apart("Classify:\n<ticket>\nMy card broke") == ""


def test_it_names_placeholders_left_unfilled_and_long_tasks_are_cut():
    text = answer("", "Summarise {notes} for {audience} " + "word " * 60)
    assert "- Left as written (no variable of that name): {audience}, {notes}." in text
    task = next(line for line in text.splitlines() if line.startswith("- Task:"))
    assert task.endswith("…”") and len(task) < 160
