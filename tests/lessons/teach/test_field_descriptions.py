"""Every aria-describedby on the editor forms names an element of the page: Django points
each field with help text at `<id>_helptext` (and one with errors at `<id>_error`), and a
name that matches nothing leaves a screen reader with no help and no error read out."""

from __future__ import annotations

import re

import pytest

from lessons.models import Exercise
from lessons.review.models import Cohort
from tests.conftest import make_exercise


def missing_descriptions(html: str) -> list[str]:
    """Return the ids named by aria-describedby that no element of the page carries."""
    ids = set(re.findall(r'\bid="([^"]+)"', html))
    named = re.findall(r'aria-describedby="([^"]+)"', html)
    return [name for names in named for name in names.split() if name not in ids]


@pytest.fixture
def draft(instructor) -> Exercise:
    return make_exercise(status=Exercise.DRAFT)


@pytest.mark.parametrize(
    "path",
    [
        "/teach/courses/new/",
        "/teach/courses/basics/",
        "/teach/courses/basics/lessons/{lesson}/",
        "/teach/exercises/{exercise}/",
        "/teach/exercises/{exercise}/cases/",
        "/teach/exercises/{exercise}/rubric/",
        "/teach/courses/basics/cohorts/new/",
        "/teach/cohorts/{cohort}/settings/",
    ],
)
def test_every_described_field_names_its_help(ines_client, instructor, draft, path):
    cohort = Cohort.objects.create(course=draft.lesson.course, name="Tue", created_by=instructor)
    url = path.format(lesson=draft.lesson_id, exercise=draft.id, cohort=cohort.id)
    response = ines_client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert "aria-describedby" in html
    assert missing_descriptions(html) == []


def test_a_refused_field_names_its_error(ines_client, instructor):
    html = ines_client.post("/teach/courses/new/", {"title": "", "slug": "Not a slug!"}).content
    html = html.decode()
    assert 'aria-describedby="id_slug_helptext id_slug_error"' in html
    assert missing_descriptions(html) == []


def test_a_wrong_join_code_is_named_as_the_fields_error(alice_client):
    html = alice_client.post("/join/", {"code": "NOPE99"}).content.decode()
    assert 'aria-invalid="true"' in html
    assert missing_descriptions(html) == []
