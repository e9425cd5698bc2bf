"""Drafts never reach learners: a course or lesson started in /teach/ is a draft, shown to its
instructors with a Draft badge and a Publish button; learners see it once published, and
never a draft course, lesson or exercise anywhere (home, course, lesson and exercise pages,
submit, preview). POST /teach/courses/<course>/publish/ and .../lessons/<id>/publish/."""

from __future__ import annotations

import pytest
from django.test import Client

from lessons.models import Course, Exercise, Lesson
from tests.conftest import make_exercise


def published_on_the_home(client) -> bool:
    return 'href="/courses/basics/"' in client.get("/").content.decode()


def learner_pages(exercise: Exercise) -> dict[str, tuple[str, str]]:
    lesson = exercise.lesson
    return {
        "course": ("get", lesson.course.get_absolute_url()),
        "lesson": ("get", lesson.get_absolute_url()),
        "exercise": ("get", exercise.get_absolute_url()),
        "submit": ("post", f"/exercises/{exercise.pk}/submit/"),
        "preview": ("post", f"/exercises/{exercise.pk}/preview/"),
    }


def statuses(client, exercise: Exercise) -> dict[str, int]:
    pages = learner_pages(exercise)
    return {name: getattr(client, m)(path).status_code for name, (m, path) in pages.items()}


def test_a_course_started_in_the_editor_is_a_draft(ines_client):
    ines_client.post("/teach/courses/new/", {"title": "Prompting 2", "slug": "prompting-2"})
    course = Course.objects.get(slug="prompting-2")
    assert not course.published
    ines_client.post("/teach/courses/prompting-2/lessons/new/", {"title": "One", "slug": "one"})
    assert not Lesson.objects.get(course=course, slug="one").published
    html = ines_client.get("/teach/courses/prompting-2/").content.decode()
    assert '<span class="badge draft">Draft</span>' in html
    assert "Publish<span" in html


@pytest.fixture
def alice(learner) -> Client:
    """Alice's own client, beside the instructor's."""
    client = Client()
    client.force_login(learner)
    return client


@pytest.mark.parametrize("draft", ["course", "lesson", "exercise"])
def test_a_draft_is_absent_for_learners_and_present_for_its_instructor(alice, ines_client, draft):
    exercise = make_exercise()
    if draft == "course":
        Course.objects.filter(pk=exercise.lesson.course_id).update(published=False)
    elif draft == "lesson":
        Lesson.objects.filter(pk=exercise.lesson_id).update(published=False)
    else:
        Exercise.objects.filter(pk=exercise.pk).update(status=Exercise.DRAFT)
    # The course's one exercise is out of reach, so the course is gone from the home too.
    assert not published_on_the_home(alice)
    assert set(statuses(alice, exercise).values()) == {404}
    assert published_on_the_home(ines_client)
    assert 404 not in statuses(ines_client, exercise).values()


def test_a_draft_lesson_is_not_listed_in_a_live_course(alice_client, exercise):
    later = Lesson.objects.create(
        course=exercise.lesson.course, slug="later", title="Later", position=5, published=False
    )
    hidden = make_exercise(lesson=later, slug="later-one", title="Later one")
    course_page = alice_client.get("/courses/basics/").content.decode()
    assert "First lesson" in course_page
    assert "Later" not in course_page
    assert alice_client.get("/courses/basics/first/").status_code == 200
    assert alice_client.get("/courses/basics/later/").status_code == 404
    assert alice_client.get(hidden.get_absolute_url()).status_code == 404
    assert "1 exercise" in alice_client.get("/").content.decode()


def test_publishing_shows_it_to_learners_and_unpublishing_hides_it(ines_client, alice, exercise):
    course = exercise.lesson.course
    Course.objects.filter(pk=course.pk).update(published=False)
    client = alice
    r = ines_client.post("/teach/courses/basics/publish/", {"published": "1"})
    assert r.status_code == 302 and r["Location"] == "/teach/courses/basics/"
    assert published_on_the_home(client)
    lesson = f"/teach/courses/basics/lessons/{exercise.lesson_id}/publish/"
    ines_client.post(lesson, {"published": "0"})
    assert not Lesson.objects.get(pk=exercise.lesson_id).published
    assert not published_on_the_home(client)
    ines_client.post(lesson, {"published": "1"})
    ines_client.post("/teach/courses/basics/publish/", {"published": "0"})
    assert not Course.objects.get(pk=course.pk).published
    assert not published_on_the_home(client)
    page = ines_client.get("/teach/courses/basics/").content.decode()
    assert "learners no longer see it" in page
    assert "Unpublish<span" in page  # the lesson's, published again


def test_only_its_instructors_publish_a_course(client, other_instructor, exercise):
    Course.objects.filter(slug="basics").update(published=False)
    client.force_login(other_instructor)
    assert client.post("/teach/courses/basics/publish/", {"published": "1"}).status_code == 404
    lesson = f"/teach/courses/basics/lessons/{exercise.lesson_id}/publish/"
    assert client.post(lesson, {"published": "1"}).status_code == 404
    assert not Course.objects.get(slug="basics").published


def test_publishing_needs_a_post(ines_client, exercise):
    assert ines_client.get("/teach/courses/basics/publish/").status_code == 405
