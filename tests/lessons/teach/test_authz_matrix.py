"""Every /teach/ URL: anonymous → login, learner and another course's instructor → 404,
GET on a POST-only URL → 405, a POST without a CSRF token → 403 and nothing changes.

The URL list comes from the URLconf, so a new authoring view fails here until it is classified.
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from lessons.authoring import publishing
from lessons.models import (
    Cohort,
    Course,
    Exercise,
    JudgeCalibration,
    Membership,
    Override,
    PublishCheck,
    Regrade,
)
from sandbox.models import Attempt
from tests.conftest import make_attempt, make_exercise

# Pages (GET and maybe POST) and actions (POST only).
PAGES = {
    "ls-teach",
    "ls-teach-create-course",
    "ls-teach-course",
    "ls-teach-create-lesson",
    "ls-teach-lesson",
    "ls-teach-create-exercise",
    "ls-teach-exercise",
    "ls-teach-cases",
    "ls-teach-rubric",
    "ls-teach-publish-status",
    "ls-teach-regrade-status",
    "ls-teach-regrade",
    "ls-teach-calibration",
    "ls-teach-health",
    "ls-teach-create-cohort",
    "ls-teach-cohort",
    "ls-teach-gradebook",
    "ls-teach-gradebook-csv",
    "ls-teach-attempts-csv",
    "ls-teach-exercise-stats",
    "ls-teach-drilldown",
    "ls-teach-review-queue",
}
ACTIONS = {
    "ls-teach-archive-course",
    "ls-teach-publish-course",
    "ls-teach-preview",
    "ls-teach-move-lesson",
    "ls-teach-archive-lesson",
    "ls-teach-publish-lesson",
    "ls-teach-move-exercise",
    "ls-teach-archive-exercise",
    "ls-teach-import-cases",
    "ls-teach-rubric-yaml",
    "ls-teach-try-rubric",
    "ls-teach-publish",
    "ls-teach-unpublish",
    "ls-teach-decide",
    "ls-teach-override",
}
# Not about one course: any staff user may open them.
UNSCOPED = {"ls-teach", "ls-teach-create-course", "ls-teach-review-queue"}


def teach_url_names() -> set[str]:
    def walk(patterns):
        for p in patterns:
            if isinstance(p, URLResolver):
                yield from walk(p.url_patterns)
            elif isinstance(p, URLPattern) and (p.name or "").startswith("ls-teach"):
                yield p.name

    return set(walk(get_resolver().url_patterns))


@pytest.fixture
def objects(instructor, learner):
    exercise = make_exercise(status=Exercise.DRAFT)
    cohort = Cohort.objects.create(course=exercise.lesson.course, name="Spring")
    Membership.objects.create(cohort=cohort, learner=learner)
    graded = make_attempt(learner, exercise, status=Attempt.GRADED, score=0.5, passed=False)
    attempt = Attempt.objects.create(
        learner=instructor, **publishing.reference_attempt_fields(exercise)
    )
    check = PublishCheck.objects.create(
        exercise=exercise, reference=attempt, reason=PublishCheck.PUBLISH, definition=""
    )
    regrade = Regrade.objects.create(exercise=exercise, requested_by=instructor)
    return {
        "course_slug": "basics",
        "lesson_id": exercise.lesson.pk,
        "exercise_id": exercise.pk,
        "check_id": check.pk,
        "regrade_id": regrade.pk,
        "cohort_id": cohort.pk,
        "learner_id": learner.pk,
        "attempt_id": graded.pk,
    }


def url_for(name: str, objects: dict) -> str:
    resolver = get_resolver()
    for possibility, _pattern, _defaults, _converters in resolver.reverse_dict.getlist(name):
        params = possibility[0][1]
        return reverse(name, kwargs={k: objects[k] for k in params})
    raise AssertionError(name)


def all_urls(objects) -> list[tuple[str, str]]:
    return [(name, url_for(name, objects)) for name in sorted(PAGES | ACTIONS)]


def test_every_authoring_url_is_classified():
    assert teach_url_names() == PAGES | ACTIONS


def test_anonymous_users_are_sent_to_log_in(client, objects):
    for name, url in all_urls(objects):
        r = client.post(url) if name in ACTIONS else client.get(url)
        assert r.status_code == 302, name
        assert r["Location"].startswith("/accounts/login/"), name


def test_learners_find_nothing(alice_client, objects):
    for name, url in all_urls(objects):
        r = alice_client.post(url) if name in ACTIONS else alice_client.get(url)
        assert r.status_code == 404, name


def test_an_instructor_of_another_course_finds_nothing(client, other_instructor, objects):
    client.force_login(other_instructor)
    for name, url in all_urls(objects):
        if name in UNSCOPED:
            continue
        r = client.post(url) if name in ACTIONS else client.get(url)
        assert r.status_code == 404, name


def test_the_instructor_opens_every_page(ines_client, objects):
    for name, url in all_urls(objects):
        if name in PAGES:
            # Without htmx, the regrade status sends the browser to the rubric page.
            assert ines_client.get(url).status_code in (200, 302), name


def test_head_answers_as_get_does(ines_client, objects):
    # HEAD is GET without the body (RFC 9110): link checkers and monitors send it.
    for name, url in all_urls(objects):
        if name in PAGES:
            head = ines_client.head(url)
            assert head.status_code == ines_client.get(url).status_code, name
            body = b"".join(head.streaming_content) if head.streaming else head.content
            assert body == b"", name


def test_it_rejects_get_on_actions(ines_client, objects):
    for name, url in all_urls(objects):
        if name in ACTIONS:
            assert ines_client.get(url).status_code == 405, name


def test_it_requires_a_csrf_token_and_changes_nothing(instructor, objects):
    client = Client(enforce_csrf_checks=True)
    client.force_login(instructor)
    exercise = Exercise.objects.get(pk=objects["exercise_id"])
    before = (exercise.title, exercise.rubric, exercise.status, exercise.archived)
    course_title = Course.objects.get(slug="basics").title
    attempts, regrades = Attempt.objects.count(), Regrade.objects.count()
    cohorts = list(Cohort.objects.values_list("name", "join_code"))
    for name, url in all_urls(objects):
        data = {"title": "Hacked", "slug": "hacked", "direction": "up", "output": "x"}
        data |= {"name": "Hacked", "score": "100", "reason": "x", "met": "1"}
        assert client.post(url, data).status_code == 403, name
    exercise.refresh_from_db()
    assert (exercise.title, exercise.rubric, exercise.status, exercise.archived) == before
    assert Course.objects.get(slug="basics").title == course_title
    assert Course.objects.count() == 1
    assert (Attempt.objects.count(), Regrade.objects.count()) == (attempts, regrades)
    assert list(Cohort.objects.values_list("name", "join_code")) == cohorts
    assert not Override.objects.exists()
    assert not JudgeCalibration.objects.exists()
