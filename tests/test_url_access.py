"""Every URL of the site is classified, so a new view cannot slip in without an access rule.

Learner URLs: anonymous users are sent to log in; another learner's attempt and a draft
exercise are 404 (never 403 or 200). The /teach/ URLs have their own matrix in
tests/lessons/teach/test_authz_matrix.py.
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.views.defaults import server_error

from lessons.models import Cohort, Exercise
from tests.conftest import make_attempt, make_exercise

# ls-courses is / : the landing page signed out (tests/lessons/test_course_list.py).
PUBLIC = {"login", "logout", "signup", "ls-courses"}
# name -> how to call it: (method, path template)
LEARNER = {
    "ls-course": ("get", "/courses/basics/"),
    "ls-lesson": ("get", "/courses/basics/first/"),
    "ls-exercise": ("get", "/courses/basics/first/greet/"),
    "sb-submit": ("post", "/exercises/{exercise}/submit/"),
    "sb-preview": ("post", "/exercises/{exercise}/preview/"),
    "sb-attempt": ("get", "/attempts/{attempt}/"),
    "sb-playground": ("get", "/playground/"),
    "ls-join": ("get", "/join/"),
    "ls-join-code": ("get", "/join/{code}/"),
    "ls-progress": ("get", "/progress/basics/"),
    "ls-progress-exercise": ("get", "/progress/basics/{exercise}/"),
}


def url_names() -> set[str]:
    def walk(patterns):
        for p in patterns:
            if isinstance(p, URLResolver):
                if str(p.pattern).startswith("admin/"):
                    continue  # Django's admin: staff only, its own checks
                yield from walk(p.url_patterns)
            elif isinstance(p, URLPattern) and p.name:
                yield p.name

    return set(walk(get_resolver().url_patterns))


def test_every_url_is_classified():
    unclassified = {n for n in url_names() - PUBLIC - set(LEARNER) if not n.startswith("ls-teach")}
    assert unclassified == set()


@pytest.fixture
def paths(learner):
    exercise = make_exercise()
    attempt = make_attempt(learner, exercise)
    cohort = Cohort.objects.create(course=exercise.lesson.course, name="Spring")
    return {
        name: (method, path.format(exercise=exercise.id, attempt=attempt.id, code=cohort.join_code))
        for name, (method, path) in LEARNER.items()
    }


def test_anonymous_users_are_sent_to_log_in(client, paths):
    for name, (method, path) in paths.items():
        response = getattr(client, method)(path)
        assert response.status_code == 302, name
        assert response["Location"].startswith("/accounts/login/"), name


def test_head_answers_as_get_does(alice_client, paths):
    # HEAD is GET without the body (RFC 9110): link checkers and monitors send it.
    pages = {name: path for name, (method, path) in paths.items() if method == "get"}
    for name, path in {**pages, "ls-courses": "/", "login": "/accounts/login/"}.items():
        assert alice_client.head(path).status_code == alice_client.get(path).status_code, name
    alice_client.logout()
    for path in ("/", "/accounts/signup/"):
        assert alice_client.head(path).status_code == 200, path


def test_another_learners_attempt_is_not_found(client, other_learner, paths):
    client.force_login(other_learner)
    assert client.get(paths["sb-attempt"][1]).status_code == 404


def test_a_draft_exercise_is_not_found_by_learners(alice_client, paths):
    Exercise.objects.update(status=Exercise.DRAFT)
    for name in ("ls-exercise", "sb-submit", "sb-preview", "ls-progress-exercise"):
        method, path = paths[name]
        assert getattr(alice_client, method)(path).status_code == 404, name


def test_an_archived_exercise_is_not_found_by_learners(alice_client, paths):
    Exercise.objects.update(archived=True)
    method, path = paths["ls-exercise"]
    assert alice_client.get(path).status_code == 404


def test_a_page_not_found_is_the_sites_own_and_names_nothing(alice_client, paths):
    """With DEBUG off, as in production, a 404 is a page of the site (top bar, a way back),
    not Django's bare "Not Found", and it says nothing of what the address held."""
    Exercise.objects.update(status=Exercise.DRAFT)
    for path in ("/no/such/page/", paths["ls-exercise"][1]):
        response = alice_client.get(path)
        assert response.status_code == 404
        assert "base.html" in [t.name for t in response.templates], path
        text = response.content.decode()
        assert "There is nothing at this address" in text
        assert 'href="/"' in text and "Go to your courses" in text
        assert "Greet someone" not in text  # the draft exercise's title


def test_a_form_refused_by_the_csrf_check_says_so_on_the_sites_own_page(learner):
    client = Client(enforce_csrf_checks=True)
    client.force_login(learner)
    response = client.post("/join/", {"code": "ABC"})
    assert response.status_code == 403
    text = response.content.decode()
    assert "This form's security check failed, so nothing was saved" in text
    assert "Log out" in text  # the site's top bar, for the user still logged in


def test_a_server_error_is_the_sites_own_page_without_a_request_context(rf):
    response = server_error(rf.get("/"))  # Django renders 500.html with no context at all
    assert response.status_code == 500
    text = response.content.decode()
    assert "Something went wrong on our side" in text and "Go to your courses" in text
