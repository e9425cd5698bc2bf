"""POST /teach/exercises/<id>/rubric/try/: grade a pasted output, no model call."""

from __future__ import annotations

from unittest.mock import patch

from lessons.models import Exercise
from tests.conftest import HTMX, make_exercise


def url(exercise) -> str:
    return f"/teach/exercises/{exercise.id}/rubric/try/"


def no_backend(*args, **kwargs):
    raise AssertionError("trying a rubric must not call a model")


def test_it_shows_the_result_of_each_criterion(ines_client, instructor):
    exercise = make_exercise(status=Exercise.DRAFT)
    with patch("sandbox.calls.make_backend", no_backend):
        r = ines_client.post(
            url(exercise), {"output": "Hello there, dear friend of mine!"}, headers=HTMX
        )
    html = r.content.decode()
    assert r.status_code == 200
    assert html.lstrip().startswith('<div id="try-result"')
    assert "Fails" in html
    assert '<li class="ok"><span class="tick" aria-hidden="true">✓</span>' in html
    assert "<strong>short</strong>" in html and "found 6" in html


def test_it_reads_expected_values_from_the_chosen_case(ines_client, instructor):
    rubric = {
        "criteria": [{"id": "label", "kind": "equals", "params": {"text": {"from_case": "label"}}}]
    }
    exercise = make_exercise(
        status=Exercise.DRAFT,
        rubric=rubric,
        cases=[{"name": "Refund", "expected": {"label": "refund"}}],
    )
    case = exercise.cases.get()
    r = ines_client.post(url(exercise), {"output": "refund", "case": str(case.pk)}, headers=HTMX)
    assert "Passes" in r.content.decode()


def test_model_output_is_escaped(ines_client, instructor):
    exercise = make_exercise(status=Exercise.DRAFT)
    r = ines_client.post(url(exercise), {"output": "<script>alert(1)</script>"}, headers=HTMX)
    assert "<script>alert" not in r.content.decode()


def test_without_htmx_it_shows_the_rubric_page_with_the_result(ines_client, instructor):
    exercise = make_exercise(status=Exercise.DRAFT)
    r = ines_client.post(url(exercise), {"output": "hello"})
    html = r.content.decode()
    assert "<h1>Greet someone</h1>" in html and "Passes" in html


def test_prompt_criteria_see_the_starter_rendered_for_the_chosen_case(ines_client, instructor):
    rubric = {
        "criteria": [
            {
                "id": "names",
                "kind": "contains",
                "target": "prompt",
                "params": {"text": "Talk to Ada"},
            }
        ]
    }
    exercise = make_exercise(status=Exercise.DRAFT, rubric=rubric)
    case = exercise.cases.get()
    r = ines_client.post(url(exercise), {"output": "hi", "case": str(case.pk)}, headers=HTMX)
    assert "Passes" in r.content.decode()
