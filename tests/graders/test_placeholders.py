"""graders.placeholders: what a placeholder is, and which ones an exercise does not declare."""

from __future__ import annotations

import pytest

from graders.placeholders import placeholders, undeclared, undeclared_message
from sandbox.prompting import render_template

DECLARED = ["notes", "audience"]


def test_it_finds_a_misspelt_placeholder():
    assert undeclared("Summarise {notez} for {audience}.", DECLARED) == ["notez"]


def test_it_lists_each_name_once_in_order_of_appearance():
    assert placeholders("{b} {a} {b} {a_1} {_x}") == ["b", "a", "a_1", "_x"]
    assert undeclared("{y} {x} {y}", DECLARED) == ["y", "x"]


@pytest.mark.parametrize(
    "text",
    [
        '{"a": 1}',
        '{ "nested": {"a": 1} }',
        "{ notez }",
        "{2x}",
        "{}",
        "{notez",
        "notez}",
        "{note-z}",
        "{nötez}",
        "{notes} and {audience}",
    ],
)
def test_braces_that_are_not_placeholders_or_are_declared_pass(text):
    assert undeclared(text, DECLARED) == []
    assert undeclared_message(text, DECLARED) == ""


def test_double_braces_are_the_escape_not_a_placeholder():
    assert undeclared("{{notez}}", DECLARED) == []
    assert placeholders("{{notes}} {audience}") == ["audience"]


@pytest.mark.parametrize(
    "text", ["{notes}", "{{notes}}", "{ notes }", '{"notes": 1}', "{notes!r}", "{notes:>3}"]
)
def test_a_placeholder_is_exactly_what_the_renderer_replaces(text):
    replaced = "N" in render_template(text, {"notes": "N"})
    assert replaced == ("notes" in placeholders(text))


def test_the_message_names_the_placeholder_and_the_exercises_variables():
    assert undeclared_message("Summarise {notez}.", DECLARED) == (
        "{notez} is not a variable of this exercise; its variables are {notes}, {audience}."
    )


def test_the_message_names_every_undeclared_placeholder():
    assert undeclared_message("{a} {b} {c}", ["notes"]) == (
        "{a}, {b} and {c} are not variables of this exercise; its variables are {notes}."
    )


def test_the_message_says_when_the_exercise_has_no_variables():
    assert undeclared_message("Hi {name}", []) == (
        "{name} is not a variable of this exercise, which has none."
    )


@pytest.mark.parametrize(
    "text",
    [
        "Greet {na\u200bme}.",  # a zero-width space, pasted from a web page
        "Greet {\u202ename}.",  # a right-to-left override
        "Greet \uff5bname\uff5d.",  # full-width braces (a CJK input method)
        "Greet {\uff4eame}.",  # a full-width letter
        "Greet {name\u00ad}.",  # a soft hyphen
        "Greet {n\u0430me}.",  # a Cyrillic a, from a Russian keyboard layout
        "Greet {nam\u03b5}.",  # a Greek epsilon
        "Greet {\u0578ame}.",  # an Armenian vo, which no table of ours lists
        "Greet {\U0001d427ame}.",  # a mathematical bold n
        "Greet {nam\u00e9}.",  # an accent on its own letter
    ],
)
def test_a_declared_placeholder_disguised_by_an_invisible_or_full_width_character_is_named(text):
    # It reads as {name} on the page, but the renderer leaves it as text: the model saw
    # "{na\u200bme}" unfilled while nothing told the learner why.
    assert render_template(text, {"name": "Ada"}) == text
    message = undeclared_message(text, ["name"])
    assert message.startswith("Type {name} again: as written it holds an invisible")


@pytest.mark.parametrize(
    "text",
    ["Greet {name}.", "{{na\u200bme}}", "{ name }", "{na\u200bmes}", "{n\u0430mes}"],
)
def test_a_placeholder_or_other_text_is_not_called_disguised(text):
    assert undeclared_message(text, ["name"]) == ""


@pytest.mark.parametrize(
    "text",
    ["Ответь {имя}.", "Traduis {日本} ici.", "اكتب {ملخص}", "Да {я}", "La {cité}."],
)
def test_a_word_of_another_script_or_accented_is_no_look_alike_of_a_name_as_long(text):
    # A learner writing Russian, Japanese or Arabic in braces: no ASCII letter of a name in
    # it, so it disguises none (the submit refused it as {tag}, {id}, {sums}, {x}); nor is a
    # word with accents on other letters ({cité} is not {city}).
    assert undeclared_message(text, ["tag", "id", "sums", "x", "city"]) == ""
