"""GET /: signed in, every course with something to do, its counts and my standing in it;
signed out, the landing page."""

from __future__ import annotations

from lessons.models import Course, Lesson
from tests.conftest import make_exercise


def make_course(slug: str, title: str, **fields) -> Course:
    """Return a published course with one lesson and one published exercise."""
    course = Course.objects.create(slug=slug, title=title, **fields)
    lesson = Lesson.objects.create(course=course, slug="one", title="One")
    make_exercise(lesson=lesson)
    return course


def test_it_lists_the_courses_with_their_counts(alice_client, exercise):
    make_exercise(slug="greet-twice", title="Greet twice")
    make_course("advanced", "Advanced prompting", description="Harder things.")
    html = alice_client.get("/").content.decode()
    assert "Basics" in html
    assert 'href="/courses/basics/"' in html
    assert "1 lesson · 2 exercises" in html
    assert "Advanced prompting" in html
    assert "Harder things." in html
    assert 'href="/courses/advanced/"' in html
    assert "1 lesson · 1 exercise" in html


def test_a_course_with_nothing_to_do_is_not_listed(alice_client, exercise):
    Course.objects.create(slug="empty", title="Empty course")
    lesson = Lesson.objects.create(course=Course.objects.get(slug="basics"), slug="x", title="X")
    make_exercise(lesson=lesson, slug="draft", status="draft")
    assert "Empty course" not in alice_client.get("/").content.decode()


def test_it_says_when_there_are_no_courses(alice_client):
    r = alice_client.get("/")
    assert r.status_code == 200
    assert "No courses yet." in r.content.decode()


def test_it_escapes_course_text(alice_client, db):
    make_course("x", "<script>alert(1)</script>", description="<b>bold</b>")
    html = alice_client.get("/").content.decode()
    assert "alert(1)" in html
    assert "<script>alert(1)" not in html
    assert "<b>bold</b>" not in html


def test_signed_out_it_shows_the_landing_page(client, exercise):
    r = client.get("/")
    assert r.status_code == 200
    html = r.content.decode()
    assert "Learn to write prompts by writing them." in html
    assert 'href="/accounts/signup/">Sign up' in html
    assert 'href="/accounts/login/">Log in' in html
    assert "Basics" in html  # what the courses teach: titles, lessons
    assert "First lesson" in html
    assert 'href="/courses/basics/"' not in html


def test_the_landing_page_names_no_draft(client, exercise):
    Course.objects.filter(slug="basics").update(published=False)
    assert "Basics" not in client.get("/").content.decode()


def test_it_rejects_post(alice_client, db):
    assert alice_client.post("/").status_code == 405
