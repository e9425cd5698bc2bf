"""/teach/, /teach/courses/new/, /teach/courses/<course>/ and its archive, move and lesson pages."""

from __future__ import annotations

import pytest

from lessons.models import Course, Exercise, Lesson
from lessons.review.models import Cohort, Membership
from tests.conftest import make_exercise, make_user


def test_the_teach_link_shows_only_to_people_who_teach(ines_client, client, learner):
    assert 'href="/teach/"' in ines_client.get("/").content.decode()
    client.force_login(learner)
    assert 'href="/teach/"' not in client.get("/").content.decode()


def test_teach_home_lists_my_courses(ines_client, other_instructor):
    html = ines_client.get("/teach/").content.decode()
    assert "Basics" in html and "Another course" not in html


def test_staff_create_a_course_and_teach_it(ines_client, instructor, other_instructor):
    r = ines_client.post(
        "/teach/courses/new/",
        {"title": "Prompting 2", "slug": "prompting-2", "instructors": "oscar"},
    )
    assert r.status_code == 302
    course = Course.objects.get(slug="prompting-2")
    assert set(course.instructors.all()) == {instructor, other_instructor}


def test_a_non_staff_instructor_cannot_create_courses(client, instructor):
    instructor.is_staff = False
    instructor.save()
    client.force_login(instructor)
    assert client.get("/teach/courses/new/").status_code == 404
    assert client.get("/teach/").status_code == 200


def test_it_refuses_a_taken_slug_and_an_unknown_co_instructor(ines_client, instructor):
    Course.objects.create(slug="taken", title="Taken")
    r = ines_client.post(
        "/teach/courses/new/", {"title": "X", "slug": "taken", "instructors": "nobody"}
    )
    html = r.content.decode()
    assert r.status_code == 422
    assert "“taken” is taken here; choose another, such as “taken-2”." in html
    assert "No user called nobody." in html


def test_it_refuses_a_deactivated_account_as_a_new_co_instructor(ines_client, instructor):
    zed = make_user("zed", is_active=False)
    edit = {"title": "Basics", "slug": "basics", "instructors": "zed"}
    r = ines_client.post("/teach/courses/basics/", edit)
    assert r.status_code == 422
    assert "The account of zed is deactivated: it cannot log in to teach." in r.content.decode()
    course = Course.objects.get(slug="basics")
    assert list(course.instructors.all()) == [instructor]
    # One deactivated after they were added does not block editing the course.
    course.instructors.add(zed)
    assert ines_client.post("/teach/courses/basics/", edit).status_code == 302
    assert set(course.instructors.all()) == {instructor, zed}


def test_it_edits_the_course_and_keeps_me_as_instructor(ines_client, instructor):
    r = ines_client.post("/teach/courses/basics/", {"title": "Basics 2", "slug": "basics"})
    assert r.status_code == 302
    course = Course.objects.get(slug="basics")
    assert course.title == "Basics 2"
    assert list(course.instructors.all()) == [instructor]


@pytest.mark.parametrize(
    "address",
    ["/teach/courses/new/", "/teach/courses/basics/", "/teach/courses/basics/lessons/new/"],
)
def test_a_post_without_fields_names_them(ines_client, instructor, address):
    # An empty body was read as no form at all: the page came back as if opened, 200.
    r = ines_client.post(address, {})
    assert r.status_code == 422
    assert "This field is required." in r.content.decode()
    assert Course.objects.get().title == "Basics"


def test_it_archives_and_unarchives_a_course(ines_client, instructor):
    ines_client.post("/teach/courses/basics/archive/")
    assert Course.objects.get(slug="basics").archived
    ines_client.post("/teach/courses/basics/archive/")
    assert not Course.objects.get(slug="basics").archived


def test_it_reorders_and_archives_lessons_and_exercises(ines_client, instructor):
    first = make_exercise()
    second = make_exercise(slug="second")
    course = first.lesson.course
    other = Lesson.objects.create(course=course, slug="later", title="Later", position=5)
    ines_client.post(f"/teach/courses/basics/lessons/{other.pk}/move/", {"direction": "up"})
    assert list(course.lessons.values_list("slug", flat=True)) == ["later", "first"]
    ines_client.post(f"/teach/exercises/{second.pk}/move/", {"direction": "up"})
    assert list(first.lesson.exercises.values_list("slug", flat=True)) == ["second", "greet"]
    ines_client.post(f"/teach/exercises/{second.pk}/archive/")
    ines_client.post(f"/teach/courses/basics/lessons/{other.pk}/archive/")
    assert Exercise.objects.get(pk=second.pk).archived
    assert Lesson.objects.get(pk=other.pk).archived


def test_it_creates_a_lesson_and_an_exercise_as_a_draft(ines_client, instructor):
    r = ines_client.post(
        "/teach/courses/basics/lessons/new/", {"title": "Roles", "slug": "roles", "body": "# Hi"}
    )
    lesson = Lesson.objects.get(slug="roles")
    assert r["Location"] == f"/teach/courses/basics/lessons/{lesson.pk}/"
    r = ines_client.post(
        f"/teach/courses/basics/lessons/{lesson.pk}/exercises/new/",
        {"title": "Play a role", "slug": "play"},
    )
    exercise = lesson.exercises.get()
    assert r["Location"] == f"/teach/exercises/{exercise.pk}/"
    assert exercise.status == Exercise.DRAFT


def test_learners_do_not_see_drafts_authored_here(ines_client, instructor, client, learner):
    make_exercise(status=Exercise.DRAFT, title="Secret draft")
    client.force_login(learner)
    assert "Secret draft" not in client.get("/courses/basics/").content.decode()


def test_it_edits_a_lesson_with_a_live_preview(ines_client, instructor):
    exercise = make_exercise()
    lesson = exercise.lesson
    html = ines_client.get(f"/teach/courses/basics/lessons/{lesson.pk}/").content.decode()
    assert 'hx-post="/teach/courses/basics/preview/"' in html
    r = ines_client.post(
        f"/teach/courses/basics/lessons/{lesson.pk}/",
        {"title": "First", "slug": "first", "body": "New *text*"},
    )
    assert r.status_code == 302
    lesson.refresh_from_db()
    assert lesson.body == "New *text*"


def test_a_save_changes_only_the_co_instructors_its_page_changed(ines_client, instructor):
    # Ines opened the page with Dora teaching; meanwhile Cleo was added from another page.
    course = Course.objects.get(slug="basics")
    cleo, dora, eve = make_user("cleo"), make_user("dora"), make_user("eve")
    course.instructors.add(dora)
    page = ines_client.get("/teach/courses/basics/").content.decode()
    assert 'name="initial-instructors" value="dora"' in page
    course.instructors.add(cleo)
    edit = {"title": "Basics 2", "slug": "basics", "initial-instructors": "dora"}
    assert (
        ines_client.post("/teach/courses/basics/", {**edit, "instructors": "dora"}).status_code
        == 302
    )
    assert set(course.instructors.all()) == {instructor, cleo, dora}  # a title edit
    ines_client.post("/teach/courses/basics/", {**edit, "instructors": "eve"})
    assert set(course.instructors.all()) == {instructor, cleo, eve}  # Dora out, Eve in


def test_a_learner_made_co_instructor_leaves_the_courses_cohorts(ines_client, instructor):
    # The course's own instructors are never members: she would be in its gradebook.
    course = Course.objects.get(slug="basics")
    dora = make_user("dora")
    cohort = Cohort.objects.create(course=course, name="Morning")
    Membership.objects.create(cohort=cohort, learner=dora)
    edit = {"title": "Basics", "slug": "basics", "initial-instructors": "", "instructors": "dora"}
    assert ines_client.post("/teach/courses/basics/", edit).status_code == 302
    assert set(course.instructors.all()) == {instructor, dora}
    assert not Membership.objects.filter(learner=dora).exists()
