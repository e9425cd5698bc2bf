"""The editor's YAML text areas go through the same capped YAML loader as course import (deep
nesting and alias bombs are refused on the form, quickly), and Markdown fields are capped."""

from __future__ import annotations

import html
import time

import pytest

from lessons.authoring import coursefiles, editing
from lessons.models import Exercise, Lesson
from tests.conftest import RUBRIC, make_exercise
from tests.lessons.teach.test_edit_exercise import form_data
from tests.lessons.test_import_bad_files import bomb, fast_and_small


def quick(fn, *args):
    """Return fn(*args)'s exception (it must raise ValueError), checking time (of one call) and
    memory (of a second, under tracemalloc)."""

    def refusal() -> str:
        with pytest.raises(ValueError) as e:
            fn(*args)
        return str(e.value)

    return fast_and_small(refusal)


def test_load_yaml_refuses_the_539_byte_alias_bomb_quickly():
    text = bomb()
    assert len(text) < 600
    message = quick(editing.load_yaml, text, dict, "Rubric options")
    assert message.startswith("Rubric options is refused on line ")
    assert "more than 20000 values once its aliases are expanded (MAX_YAML_NODES)" in message


def test_load_yaml_refuses_yaml_nested_5000_deep():
    message = quick(editing.load_yaml, "a: " + "[" * 5000 + "]" * 5000, dict, "Parameters")
    assert message == (
        "Parameters is refused on line 1: it is nested more than 50 levels deep (MAX_YAML_DEPTH)"
    )


def test_load_yaml_refuses_text_over_the_size_cap(settings):
    settings.MAX_COURSE_FILE_BYTES = 1000
    message = quick(editing.load_yaml, "a: " + "b" * 1000, dict, "Stub rules")
    assert message == (
        "Stub rules is refused: it is 1003 bytes; at most 1000 (MAX_COURSE_FILE_BYTES)"
    )


def test_load_yaml_refuses_a_nul_character_written_as_an_escape():
    message = quick(editing.load_yaml, 'criteria:\n  - {text: "a\\0b"}', dict, "Rubric")
    assert message == (
        "Rubric is refused on line 2: a text holds a NUL character (\\0 or \\x00), which "
        "cannot be stored; remove it"
    )


def test_load_yaml_joins_an_escaped_surrogate_pair_and_refuses_half_of_one():
    assert editing.load_yaml('t: "\\ud83d\\ude00"', dict, "Rubric") == {"t": "\U0001f600"}
    message = quick(editing.load_yaml, 'a: 1\nt: "\\ud83d"', dict, "Rubric")
    assert message.startswith("Rubric is refused on line 2: a text holds half of a UTF-16")


@pytest.mark.parametrize("text", ["n: .nan", "cases:\n  - {n: [1, .inf]}", "- -.inf"])
def test_load_yaml_refuses_a_number_that_is_not_finite(text):
    expect = list if text.startswith("-") else dict
    with pytest.raises(ValueError) as e:
        editing.load_yaml(text, expect, "Expected values")
    path = {"n: .nan": "n", "- -.inf": "[0]"}.get(text, "cases[0].n[1]")
    assert str(e.value) == (
        f"Expected values is refused: {path} is not a finite number (.nan and .inf cannot be "
        "stored)"
    )


def test_a_long_text_repeated_through_aliases_is_checked_once():
    # Checked at every use, it took 7-14 s; once, it takes milliseconds.
    uses = [", ".join([ref] * 10) for ref in ("*x", "*l1", "*l2", "*l3")]
    text = (
        f'a: &x "{"x" * 200_000}"\nb: &l1 [{uses[0]}]\nc: &l2 [{uses[1]}]\n'
        f"d: &l3 [{uses[2]}]\ne: [{uses[3]}]\n"
    )
    started = time.monotonic()
    assert len(editing.load_yaml(text, dict, "Rubric")["e"]) == 10
    assert time.monotonic() - started < 3


def test_load_yaml_keeps_ordinary_aliases_and_nesting():
    text = "base: &b {x: 1}\nuse: [*b, *b]\ndeep: " + "[" * 40 + "]" * 40
    value = editing.load_yaml(text, dict, "Rubric options")
    assert value["use"] == [{"x": 1}, {"x": 1}]


def test_the_caps_are_settings(settings):
    settings.MAX_YAML_DEPTH = 3
    settings.MAX_YAML_NODES = 5
    assert "more than 3 levels" in quick(editing.load_yaml, "a: [[[1]]]", dict, "X")
    assert "more than 5 values" in quick(editing.load_yaml, "[1, 2, 3, 4, 5]", list, "X")


def test_one_loader_serves_the_editor_and_course_import():
    """The course import's line-numbering loader is the editor's capped loader."""
    assert issubclass(coursefiles.LineLoader, editing.CappedLoader)


def test_the_rubric_yaml_view_refuses_deep_yaml_and_a_bomb_with_a_form_error(
    ines_client, instructor
):
    exercise = make_exercise(status=Exercise.DRAFT)
    url = f"/teach/exercises/{exercise.id}/rubric/yaml/"
    r = ines_client.post(url, {"rubric": "criteria: " + "[" * 5000 + "]" * 5000})
    assert r.status_code == 422
    assert "nested more than 50 levels deep" in r.content.decode()

    started = time.monotonic()
    r = ines_client.post(url, {"rubric": bomb()})
    assert time.monotonic() - started < 3  # a bomb that slipped through would take minutes
    assert r.status_code == 422
    assert "once its aliases are expanded" in html.unescape(r.content.decode())
    exercise.refresh_from_db()
    assert exercise.rubric == RUBRIC


def test_the_editors_refuse_a_number_that_is_not_finite_with_a_form_error(ines_client, instructor):
    from tests.lessons.teach.test_edit_cases import rows

    exercise = make_exercise(status=Exercise.DRAFT)
    rubric = "criteria:\n  - {id: a, kind: word_count, params: {max: .inf}}\n"
    r = ines_client.post(f"/teach/exercises/{exercise.id}/rubric/yaml/", {"rubric": rubric})
    assert r.status_code == 422 and "is not a finite number" in r.content.decode()
    case = {"name": "X", "var_name": "x", "expected": "n: .nan"}
    r = ines_client.post(f"/teach/exercises/{exercise.id}/cases/", rows(case))
    assert r.status_code == 422 and "is not a finite number" in r.content.decode()
    slots = "- {name: a, text: hi, label: .nan}\n"
    r = ines_client.post(f"/teach/exercises/{exercise.id}/", form_data(slots=slots))
    assert r.status_code == 422 and "is not a finite number" in r.content.decode()
    exercise.refresh_from_db()
    assert exercise.rubric == RUBRIC and not exercise.slots


def test_the_exercise_editor_refuses_a_bomb_in_stub_rules(ines_client, instructor):
    exercise = make_exercise(status=Exercise.DRAFT)
    r = ines_client.post(f"/teach/exercises/{exercise.id}/", form_data(stub=bomb()))
    assert r.status_code == 422
    assert "Stub rules is refused on line" in r.content.decode()


def test_a_lesson_body_over_the_markdown_cap_is_refused(ines_client, instructor):
    make_exercise()
    lesson = Lesson.objects.get(slug="first")
    r = ines_client.post(
        f"/teach/courses/basics/lessons/{lesson.pk}/",
        {"title": "First", "slug": "first", "body": "x" * 100_001},
    )
    assert r.status_code == 422
    assert "at most 100000 characters (it has 100001)" in html.unescape(r.content.decode())
    lesson.refresh_from_db()
    assert lesson.body == "# Hi"


def test_exercise_instructions_over_the_markdown_cap_are_refused(ines_client, instructor):
    exercise = make_exercise(status=Exercise.DRAFT)
    r = ines_client.post(f"/teach/exercises/{exercise.id}/", form_data(instructions="x" * 100_001))
    assert r.status_code == 422
    assert "at most 100000 characters (it has 100001)" in html.unescape(r.content.decode())
