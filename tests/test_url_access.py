"""Every URL of the site is classified, so a new view cannot slip in without an access rule.

Learner URLs: anonymous users are sent to log in; another learner's attempt and a draft
exercise are 404 (never 403 or 200). The /teach/ URLs have their own matrix in
tests/lessons/teach/test_authz_matrix.py.
"""

from __future__ import annotations

import re
from collections import defaultdict
from html.parser import HTMLParser
from urllib.parse import quote, unquote

import pytest
from django.test import Client
from django.urls import Resolver404, URLPattern, URLResolver, get_resolver
from django.views.defaults import server_error

from lessons.models import Cohort, Course, Exercise, Lesson, Membership, PublishCheck
from sandbox.models import Attempt
from tests.conftest import (
    HTMX,
    graded_with_a_hidden_case,
    make_attempt,
    make_exercise,
    run_queued,
)
from tests.lessons.teach import test_authz_matrix as teach_matrix

objects = teach_matrix.objects  # the fixture: one of every object a /teach/ URL names

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


# Values a crafted request puts where an id, a code or a form field goes: a NUL byte
# (PostgreSQL refuses it in text), a digit str.isdigit accepts and int() does not, a number
# past any database integer, a negative one and one out of float's range.
CRAFTED = ("\x00", "²", "9" * 25, "-1", "1e999")


class PostForms(HTMLParser):
    """Collect the POST forms of a page: (action, {field name: value})."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, dict[str, str]]] = []
        self.fields: dict[str, str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "form" and (found.get("method") or "").lower() == "post":
            self.fields = {}
            self.forms.append((found.get("action") or "", self.fields))
        elif tag in ("input", "textarea", "select") and self.fields is not None:
            if found.get("name"):
                self.fields[found["name"] or ""] = found.get("value") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.fields = None


def crafted_urls(world: dict, crafted: tuple[str, ...] = CRAFTED) -> list[str]:
    """Return every URL of the URLconf with its real ids, then with each crafted value in
    place of its ids and codes (those the converter lets through)."""

    def walk(patterns, prefix=""):
        for p in patterns:
            if isinstance(p, URLResolver):
                if not str(p.pattern).startswith("admin/"):
                    yield from walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern) and p.name not in ("login", "logout"):
                yield "/" + prefix + str(p.pattern)

    urls = []
    for route in walk(get_resolver().url_patterns):
        for value in (None, *crafted):

            def fill(match, value=value):
                converter, name = match.group(1) or "str", match.group(2)
                if value is not None and converter in ("int", "str"):
                    return quote(value)
                return str(world[name])

            url = re.sub(r"<(?:(\w+):)?(\w+)>", fill, route)
            try:
                get_resolver().resolve(unquote(url))
            except Resolver404:
                continue  # the converter refuses it: Django's 404
            if url not in urls:
                urls.append(url)
    return urls


def test_no_crafted_id_query_or_form_value_is_a_server_error(
    instructor,
    learner,
    objects,
    delay,
):
    """Every URL, as the learner and as the instructor, with crafted ids and query strings,
    and every form of every page posted back with each field crafted: 4xx or a page, never
    a 500 (a learner must not be able to make errors pile up in the logs)."""
    Exercise.objects.update(status=Exercise.PUBLISHED)
    code = Cohort.objects.get(pk=objects["cohort_id"]).join_code
    world = {**objects, "lesson_slug": "first", "exercise_slug": "greet", "code": code}
    urls = crafted_urls(world)
    query = {name: CRAFTED for name in ("page", "q", "sort", "dir", "shown", "course", "reason")}
    errors = []
    for user in (learner, instructor):
        client = Client(raise_request_exception=False)
        client.force_login(user)
        forms: dict[tuple[str, tuple[str, ...]], dict[str, str]] = {}
        for url in urls:
            for headers in ({}, HTMX):
                for method, response in (
                    ("GET", client.get(url, query, headers=headers)),
                    ("POST", client.post(url, query, headers=headers)),
                ):
                    if response.status_code >= 500:
                        errors.append((user.username, method, url, response.status_code))
            page = client.get(url)
            if page.status_code == 200 and not page.streaming:
                parser = PostForms()
                parser.feed(page.content.decode())
                for action, fields in parser.forms:
                    if action == "/accounts/logout/":
                        continue  # the session the rest of the requests use
                    forms.setdefault((action or url, tuple(sorted(fields))), fields)
        for (action, _), fields in forms.items():
            for value in CRAFTED:
                # Every field crafted but the one that says which of a page's forms it is.
                data = {
                    k: v if k in ("action", "csrfmiddlewaretoken") else value
                    for k, v in fields.items()
                }
                for headers in ({}, HTMX):
                    response = client.post(action, data, headers=headers)
                    if response.status_code >= 500:
                        errors.append((user.username, "POST", action, sorted(data), value))
    assert errors == []


def test_a_tampered_row_count_builds_no_more_rows_than_the_page_may_have(ines_client, objects):
    """Every formset on a /teach/ page, posted back with a row count past any real one: the
    page shows at most the formset's MAX_NUM_FORMS rows (Django would build 1,000 more, each
    rendered: seconds and megabytes for one request)."""
    formsets = 0
    for _, url in teach_matrix.all_urls(objects):
        page = ines_client.get(url)
        if page.status_code != 200 or page.streaming:
            continue
        parser = PostForms()
        parser.feed(page.content.decode())
        for action, fields in parser.forms:
            for name in fields:
                if not name.endswith("-TOTAL_FORMS"):
                    continue
                formsets += 1
                prefix = name.removesuffix("-TOTAL_FORMS")
                most = int(fields[f"{prefix}-MAX_NUM_FORMS"])
                response = ines_client.post(action or url, {**fields, name: "9" * 25})
                rows = set(re.findall(rf'name="{prefix}-(\d+)-', response.content.decode()))
                assert len(rows) <= most, (url, prefix)
    assert formsets >= 2  # the test cases and the rubric


def test_a_removed_co_instructor_finds_nothing_of_the_course(
    ines_client, instructor, learner, other_instructor, objects
):
    """Taken off the course's instructors, Ines finds none of its /teach/ pages, GET or POST
    (as the learner and another course's instructor find none), and not the reference runs
    she started for its publish checks (they show its hidden test cases)."""
    Course.objects.get(slug="basics").instructors.remove(instructor)
    exercise = Exercise.objects.get(pk=objects["exercise_id"])
    before = (exercise.title, exercise.rubric, exercise.status, exercise.archived)
    data = {"title": "Hacked", "slug": "hacked", "name": "Hacked", "action": "new-code"}
    for user in (instructor, learner, other_instructor):
        client = Client()
        client.force_login(user)
        for name, url in teach_matrix.all_urls(objects):
            if name in teach_matrix.UNSCOPED:
                continue
            for headers in ({}, HTMX):
                assert client.get(url, headers=headers).status_code in (404, 405), name
                assert client.post(url, data, headers=headers).status_code in (404, 405), name
    exercise.refresh_from_db()
    assert (exercise.title, exercise.rubric, exercise.status, exercise.archived) == before
    assert list(Cohort.objects.values_list("name", flat=True)) == ["Spring"]
    reference = PublishCheck.objects.get(pk=objects["check_id"]).reference_id
    for headers in ({}, HTMX):
        assert ines_client.get(f"/attempts/{reference}/", headers=headers).status_code == 404


def test_learner_posts_need_a_csrf_token_and_post_only_urls_refuse_get(learner, paths, delay):
    """Every learner URL posted to without a CSRF token (as a form, or as htmx would without
    its header): 403 and nothing saved or queued. The POST-only ones refuse GET with 405."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(learner)
    data = {"user": "say hello", "models": "stub:scripted", "code": paths["ls-join-code"][1]}
    for name, (method, path) in paths.items():
        for headers in ({}, HTMX):
            assert client.post(path, data, headers=headers).status_code == 403, name
        if method == "post":
            assert client.get(path).status_code == 405, name
    assert (Attempt.objects.count(), Membership.objects.count()) == (1, 0)
    delay.assert_not_called()


# What takes an exercise away from learners, each on its own.
CLOSED = {
    "a draft exercise": (Exercise, {"status": Exercise.DRAFT}),
    "an archived exercise": (Exercise, {"archived": True}),
    "an unpublished lesson": (Lesson, {"published": False}),
    "an archived lesson": (Lesson, {"archived": True}),
    "an unpublished course": (Course, {"published": False}),
    "an archived course": (Course, {"archived": True}),
}


@pytest.mark.parametrize("closed", sorted(CLOSED))
def test_a_closed_exercise_is_not_found_by_learners_at_any_of_its_urls(
    alice_client, paths, closed, delay
):
    """Every learner URL that names the exercise, its lesson or its course is a 404 once any
    of them is closed to learners; only the learner's own attempt stays readable."""
    model, fields = CLOSED[closed]
    model.objects.update(**fields)
    for name, (method, path) in paths.items():
        if name in ("sb-attempt", "sb-playground", "ls-join", "ls-join-code"):
            continue
        for headers in ({}, HTMX):
            response = getattr(alice_client, method)(path, headers=headers)
            assert response.status_code == 404, (closed, name)
    assert Attempt.objects.count() == 1  # the fixture's
    delay.assert_not_called()


def test_the_markdown_preview_renders_no_more_than_can_be_saved(ines_client, settings, objects):
    # Crafted Markdown costs seconds per 100 KB ("[" repeated), and the save refuses more.
    settings.MAX_MARKDOWN_CHARS = 1000
    url = teach_matrix.url_for("ls-teach-preview", objects)
    for field in ("body", "instructions"):
        response = ines_client.post(url, {field: "[" * 5000}, headers=HTMX)
        assert response.content.decode().count("[") == 1000, field


def test_no_learner_page_shows_a_hidden_test_case_or_the_instructors_answers(
    learner, other_learner
):
    """Every URL of the URLconf as the learner, as a page and as htmx's part, after a graded
    attempt whose hidden case's input (and so, on the echo model, its output) is "Zanzibar"
    and after a second attempt, so the pages show diffs: the hidden case shows nowhere, nor
    the reference answers, the solution or the known-bad prompts."""
    first = graded_with_a_hidden_case(learner)
    exercise = first.exercise
    assert exercise is not None
    # What only instructors read: a reference answer, the solution, the known-bad prompts.
    exercise.cases.update(reference="Refsecret answer")
    exercise.solution = {"user": "Solsecret {name}"}
    exercise.known_bad = ["Badsecret prompt"]
    exercise.save(update_fields=["solution", "known_bad"])
    make_attempt(learner, exercise, user_prompt="hi {name}")
    run_queued()
    cohort = Cohort.objects.create(course=exercise.lesson.course, name="Spring")
    Membership.objects.create(cohort=cohort, learner=learner)
    world = {
        "course_slug": "basics",
        "lesson_slug": "first",
        "exercise_slug": exercise.slug,
        "exercise": exercise.pk,
        "attempt": Attempt.objects.filter(learner=learner).latest("created_at").pk,
        "code": cohort.join_code,
    }
    client = Client()
    client.force_login(learner)
    shown = 0  # pages with the visible case's output ("hello Ada", "hi Ada")
    for url in crafted_urls(defaultdict(int, world), crafted=()):
        if url.startswith("/teach/"):
            continue  # learners find none (tests/lessons/teach/test_authz_matrix.py)
        for headers in ({}, HTMX):
            text = client.get(url, headers=headers).content.decode()
            for secret in ("Zanzibar", "Refsecret", "Solsecret", "Badsecret"):
                assert secret not in text, (url, secret)
            shown += " Ada" in text
    assert shown >= 2  # the attempt page and its htmx part at least
