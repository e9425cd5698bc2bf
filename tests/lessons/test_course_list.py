"""GET /: every course, with its lesson and exercise counts."""

from __future__ import annotations

from lessons.models import Course
from tests.conftest import make_exercise


def test_it_lists_the_courses_with_their_counts(alice_client, exercise):
    make_exercise(slug="greet-twice", title="Greet twice")
    Course.objects.create(slug="advanced", title="Advanced prompting", description="Harder things.")
    html = alice_client.get("/").content.decode()
    assert "Basics" in html
    assert 'href="/courses/basics/"' in html
    assert "1 lesson · 2 exercises" in html
    assert "Advanced prompting" in html
    assert "Harder things." in html
    assert 'href="/courses/advanced/"' in html
    assert "0 lessons · 0 exercises" in html


def test_it_says_when_there_are_no_courses(alice_client):
    r = alice_client.get("/")
    assert r.status_code == 200
    assert "No courses yet." in r.content.decode()


def test_it_escapes_course_text(alice_client, db):
    Course.objects.create(slug="x", title="<script>alert(1)</script>", description="<b>bold</b>")
    html = alice_client.get("/").content.decode()
    assert "<script>alert(1)" not in html
    assert "<b>bold</b>" not in html


def test_it_requires_login(client, db):
    r = client.get("/")
    assert r.status_code == 302
    assert r["Location"] == "/accounts/login/?next=/"


def test_it_rejects_post(alice_client, db):
    assert alice_client.post("/").status_code == 405
