"""The exercise editor warns when an llm_judge criterion names the model being graded, however
it spells it ("backend:model" or a bare model of the exercise's backend) and however deep it
sits; the warning does not stop a save."""

from __future__ import annotations

import pytest

from lessons.models import Exercise
from tests.conftest import make_exercise
from tests.lessons.teach.test_edit_exercise import form_data

WARNING = (
    "The judge is the model being graded (stub:scripted): a model grading its own output is "
    "lenient with it. Pick another judge model."
)


def judged_by(model: str, nested: bool = False) -> dict:
    judge = {"id": "tone", "kind": "llm_judge", "params": {"model": model, "items": ["Kind."]}}
    if nested:
        judge = {"id": "both", "kind": "all_of", "params": {"criteria": [judge]}}
    return {"criteria": [{"id": "says", "kind": "contains", "params": {"text": "hi"}}, judge]}


def editor_page(client, exercise: Exercise, page: str = "") -> str:
    response = client.get(f"/teach/exercises/{exercise.id}/{page}")
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.parametrize("model", ["scripted", "stub:scripted"])
@pytest.mark.parametrize("page", ["", "rubric/", "cases/"])
def test_it_warns_on_every_editor_page_when_the_judge_is_the_graded_model(ines_client, model, page):
    exercise = make_exercise(status=Exercise.DRAFT, rubric=judged_by(model))
    html = editor_page(ines_client, exercise, page)
    assert 'class="alert warning" role="note" data-judge-warning' in html
    assert WARNING in html


def test_it_warns_about_a_judge_inside_a_composite(ines_client):
    exercise = make_exercise(status=Exercise.DRAFT, rubric=judged_by("scripted", nested=True))
    assert WARNING in editor_page(ines_client, exercise)


def test_it_warns_about_a_bare_model_of_the_exercise_backend(ines_client):
    exercise = make_exercise(
        status=Exercise.DRAFT,
        backend="openai",
        model_name="gpt-4o-mini",
        rubric=judged_by("gpt-4o-mini"),
    )
    assert "The judge is the model being graded (openai:gpt-4o-mini)" in editor_page(
        ines_client, exercise
    )


@pytest.mark.parametrize("model", ["echo", "stub:echo", "openai:scripted", "anthropic:scripted"])
def test_it_does_not_warn_when_the_judge_is_another_model(ines_client, model):
    exercise = make_exercise(status=Exercise.DRAFT, rubric=judged_by(model))
    assert "data-judge-warning" not in editor_page(ines_client, exercise)


def test_it_does_not_warn_without_a_judge(ines_client):
    exercise = make_exercise(status=Exercise.DRAFT)
    assert "data-judge-warning" not in editor_page(ines_client, exercise)


def test_it_saves_an_exercise_whose_judge_is_its_own_model_and_warns_after(ines_client):
    exercise = make_exercise(status=Exercise.DRAFT, model_name="echo", rubric=judged_by("scripted"))
    assert "data-judge-warning" not in editor_page(ines_client, exercise)
    response = ines_client.post(f"/teach/exercises/{exercise.id}/", form_data())
    assert response.status_code == 302
    exercise.refresh_from_db()
    assert exercise.model_name == "scripted"
    assert WARNING in editor_page(ines_client, exercise)
