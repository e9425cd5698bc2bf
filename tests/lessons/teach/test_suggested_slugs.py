"""The create forms of /teach/ (course, lesson, exercise): a blank slug is made from the title,
unique within its parent; a typed one is kept, and a taken one refused with a free one named."""

from __future__ import annotations

from lessons.models import Course, Exercise, Lesson
from tests.conftest import make_exercise


def new_exercise_url(lesson: Lesson) -> str:
    return f"/teach/courses/{lesson.course.slug}/lessons/{lesson.pk}/exercises/new/"


def test_a_blank_course_slug_is_made_from_the_title_unique_among_courses(ines_client, instructor):
    Course.objects.create(slug="prompt-basics", title="Taken")
    r = ines_client.post("/teach/courses/new/", {"title": "Prompt Basics!", "slug": ""})
    assert r.status_code == 302
    assert Course.objects.filter(slug="prompt-basics-2", title="Prompt Basics!").exists()
    ines_client.post("/teach/courses/new/", {"title": "New", "slug": ""})
    assert Course.objects.filter(slug="new-2").exists()  # /teach/courses/new/ is the form


def test_a_blank_lesson_slug_is_unique_within_its_course_only(ines_client, instructor):
    exercise = make_exercise()  # in the lesson "first" of the course "basics"
    other = Course.objects.create(slug="other", title="Other")
    Lesson.objects.create(course=other, slug="roles-tone", title="Elsewhere")
    url = f"/teach/courses/{exercise.lesson.course.slug}/lessons/new/"
    ines_client.post(url, {"title": "Roles & tone", "slug": "", "body": ""})
    ines_client.post(url, {"title": "Roles & tone", "slug": "", "body": ""})
    slugs = set(exercise.lesson.course.lessons.values_list("slug", flat=True))
    assert slugs == {"first", "roles-tone", "roles-tone-2"}


def test_a_blank_exercise_slug_is_unique_within_its_lesson(ines_client, instructor):
    lesson = make_exercise(slug="greet-someone").lesson
    url = new_exercise_url(lesson)
    r = ines_client.post(url, {"title": "Greet someone", "slug": ""})
    assert r.status_code == 302
    created = Exercise.objects.get(lesson=lesson, title="Greet someone", status=Exercise.DRAFT)
    assert created.slug == "greet-someone-2"
    ines_client.post(url, {"title": "¿¡!", "slug": ""})
    assert lesson.exercises.filter(slug="untitled").exists()


def test_a_typed_slug_is_kept_and_a_taken_one_refused_naming_a_free_one(ines_client, instructor):
    lesson = make_exercise(slug="greet").lesson
    url = new_exercise_url(lesson)
    r = ines_client.post(url, {"title": "Greet", "slug": "greet"})
    assert r.status_code == 422
    assert "“greet” is taken here; choose another, such as “greet-2”." in r.content.decode()
    ines_client.post(url, {"title": "Greet", "slug": "hello-there"})
    assert lesson.exercises.filter(slug="hello-there", title="Greet").exists()


def test_the_create_pages_mark_the_slug_to_follow_the_title(ines_client, instructor):
    exercise = make_exercise()
    lesson = exercise.lesson
    for url in (
        "/teach/courses/new/",
        f"/teach/courses/{lesson.course.slug}/lessons/new/",
        new_exercise_url(lesson),
    ):
        html = ines_client.get(url).content.decode()
        assert 'data-slug-of="title"' in html, url
        assert "lessons/slug.js" in html, url


def test_a_typed_slug_is_kept_in_lower_case_as_course_files_write_it(ines_client, instructor):
    # Course files take a-z only: an "Intro" typed here would export to files that do not
    # import back, and on a case-blind disk Intro.yaml and intro.yaml are one file.
    ines_client.post("/teach/courses/new/", {"title": "Mixed", "slug": "Mixed-Case"})
    course = Course.objects.get(title="Mixed")
    assert course.slug == "mixed-case"
    ines_client.post(f"/teach/courses/{course.slug}/lessons/new/", {"title": "I", "slug": "Intro"})
    lesson = course.lessons.get()
    assert lesson.slug == "intro"
    ines_client.post(new_exercise_url(lesson), {"title": "T", "slug": "Tagline"})
    assert lesson.exercises.get().slug == "tagline"
