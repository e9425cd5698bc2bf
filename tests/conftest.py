"""The named cast and make_* helpers shared by the tests."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from unittest.mock import patch

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import User
from django.db import connection, connections
from django.test import Client

import graders
from lessons.models import Case, Course, Exercise, Lesson
from sandbox import runs
from sandbox.models import Attempt, Run

PASSWORD = "correct-horse-battery"

RUBRIC = {
    "pass_threshold": 1.0,
    "criteria": [
        {
            "id": "greets",
            "kind": "contains",
            "params": {"text": "hello"},
            "ignore_case": True,
            "feedback": {"pass": "It greets.", "fail": "Ask it to say hello."},
        },
        {"id": "short", "kind": "word_count", "params": {"max": 5}},
    ],
}
STUB = {
    "rules": [{"if": "say hello", "reply": "Hello there!"}],
    "default": "I am not sure what you want me to do, so here is a long and rambling reply.",
}


# A rubric with a judge: "greets" (the output says hello) and "friendly" (an llm_judge on the
# exercise's own stub rules).
JUDGED_RUBRIC = {
    "pass_threshold": 1.0,
    "criteria": [
        {"id": "greets", "kind": "contains", "params": {"text": "hello"}, "ignore_case": True},
        {
            "id": "friendly",
            "kind": "llm_judge",
            "params": {"model": "stub:scripted", "items": ["The reply greets the reader."]},
        },
    ],
}
# Stub rules whose judge answers in prose, which a judge must not: every judged output needs
# review (a person's decision).
UNDECIDED_JUDGE_STUB = {
    "rules": [
        {"if": "one entry per rubric item", "reply": "I think it is friendly enough."},
        {"if": "say hello", "reply": "Hello there!"},
    ],
    "default": "No.",
}


def make_user(username: str, **fields) -> User:
    return User.objects.create_user(username=username, password=PASSWORD, **fields)


def make_exercise(lesson: Lesson | None = None, **fields) -> Exercise:
    """Return a published exercise, by default in the "basics" course's first lesson."""
    if lesson is None:
        course, _ = Course.objects.get_or_create(slug="basics", defaults={"title": "Basics"})
        lesson, _ = Lesson.objects.get_or_create(
            course=course, slug="first", defaults={"title": "First lesson", "body": "# Hi"}
        )
    fields.setdefault("slug", "greet")
    fields.setdefault("status", Exercise.PUBLISHED)
    fields.setdefault("title", "Greet someone")
    fields.setdefault("instructions", "Make the model **greet** `{name}`.")
    fields.setdefault("editable_fields", ["system", "user"])
    fields.setdefault("starter_user", "Talk to {name}.")
    fields.setdefault("variables", ["name"])
    fields.setdefault("rubric", RUBRIC)
    fields.setdefault("stub", STUB)
    fields.setdefault("hints", ["Say what to say.", "Use the words 'say hello'."])
    cases = fields.pop("cases", [{"name": "Ada", "variables": {"name": "Ada"}}])
    exercise = Exercise.objects.create(lesson=lesson, **fields)
    for position, case in enumerate(cases):
        Case.objects.create(exercise=exercise, position=position, **case)
    return exercise


def make_fixed_input_exercise(**fields) -> Exercise:
    """Return a draft whose prompt reads {name}, given by each case, and {tone}, a fixed
    input every case shares ("warm")."""
    fields.setdefault("status", Exercise.DRAFT)
    return make_exercise(
        variables=["name", "tone"],
        fixed_variables={"tone": "warm"},
        starter_user="Talk {tone} to {name}.",
        **fields,
    )


def make_few_shot_exercise(**fields) -> Exercise:
    """Return a commit-message exercise whose learner edits the example turns before {change}."""
    fields.setdefault("editable_fields", [])
    fields.setdefault("starter_system", "You write commit messages.")
    fields.setdefault("starter_user", "{change}")
    fields.setdefault("variables", ["change"])
    fields.setdefault(
        "examples",
        [
            {"role": "user", "text": "Added dark mode", "editable": True},
            {"role": "assistant", "text": "I added dark mode.", "editable": True},
        ],
    )
    fields.setdefault("cases", [{"name": "Feature", "variables": {"change": "Added CSV export"}}])
    return make_exercise(**fields)


def make_attempt(learner: User, exercise: Exercise, **fields) -> Attempt:
    fields.setdefault("user_prompt", "Please say hello to {name}.")
    return Attempt.objects.create(learner=learner, exercise=exercise, **fields)


@pytest.fixture
def delay():
    """The broker edge: the run_attempt messages published, without a broker."""
    with patch("sandbox.tasks.run_attempt.delay") as delay:
        yield delay


def run_queued() -> None:
    """Run every queued attempt, oldest first, as workers given their messages would."""
    queued = Attempt.objects.filter(status=Attempt.QUEUED).order_by("created_at")
    for attempt_id in list(queued.values_list("id", flat=True)):
        runs.execute(str(attempt_id))


def graded_with_a_hidden_case(learner: User) -> Attempt:
    """Return an attempt graded on the echo model, whose second test case is hidden. The echo
    model replies with the prompt, so the hidden case's output holds its input, "Zanzibar"."""
    exercise = make_exercise(
        model_name="echo",
        cases=[
            {"name": "Ada", "variables": {"name": "Ada"}},
            {"name": "Secret case", "variables": {"name": "Zanzibar"}, "visibility": "hide"},
        ],
    )
    attempt = make_attempt(learner, exercise, user_prompt="hello {name}")
    run_queued()
    attempt.refresh_from_db()
    assert attempt.status == Attempt.GRADED, attempt.error
    return attempt


@pytest.fixture
def learner(db) -> User:
    """Alice: a learner who submits attempts."""
    return make_user("alice")


@pytest.fixture
def other_learner(db) -> User:
    """Bob: another learner, who must never see Alice's attempts."""
    return make_user("bob")


@pytest.fixture
def exercise(db) -> Exercise:
    """An exercise on the scripted stub: 'say hello' passes, anything else fails."""
    return make_exercise()


@pytest.fixture
def alice_client(client, learner):
    client.force_login(learner)
    return client


# The course that ships with the product; tests load it or a copy of it.
STARTER = Path(__file__).resolve().parent.parent / "lessons" / "starter" / "prompt-fundamentals"

# What htmx sends with every request it makes.
HTMX = {"HX-Request": "true"}


def make_run(attempt: Attempt, position: int = 0, **fields) -> Run:
    fields.setdefault("case_name", f"Case {position + 1}")
    fields.setdefault("output", "Hello there!")
    return Run.objects.create(attempt=attempt, position=position, **fields)


@pytest.fixture
def bob_client(client, other_learner):
    client.force_login(other_learner)
    return client


@pytest.fixture(autouse=True)
def fast_password_hashing(request):
    """Hash test passwords with MD5, as healthchecks' test runner does: the default hasher takes
    over a second per password here. Only for tests with a database, and not for slow tests:
    the processes they start must read the hashes these tests write."""
    if "db" in request.fixturenames and request.node.get_closest_marker("slow") is None:
        settings = request.getfixturevalue("settings")
        settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def isolated_cache(settings):
    """Give every test a cache of its own: cached completions, single-flight locks and the
    spend total must not leak from one test into another (or across xdist workers, which
    would share a Redis cache). Processes a test starts use their own settings."""
    settings.CACHES = {
        alias: {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"test-{alias}-{uuid.uuid4()}",
        }
        for alias in ("default", "local")
    }


@pytest.fixture
def instructor(db) -> User:
    """Ines: teaches the "basics" course (the one make_exercise builds); a staff user."""
    user = make_user("ines", is_staff=True)
    course, _ = Course.objects.get_or_create(slug="basics", defaults={"title": "Basics"})
    course.instructors.add(user)
    return user


@pytest.fixture
def other_instructor(db) -> User:
    """Oscar: teaches another course, so none of Ines's objects exist for him."""
    user = make_user("oscar", is_staff=True)
    course = Course.objects.create(slug="other", title="Another course")
    course.instructors.add(user)
    return user


@pytest.fixture
def ines_client(client, instructor):
    client.force_login(instructor)
    return client


@pytest.fixture(scope="session", autouse=True)
def close_connection_pools(request):
    """On PostgreSQL the connections come from a pool that keeps one open; close them all
    before the test database is dropped, or the drop finds the database in use."""
    if "pool" not in django_settings.DATABASES["default"].get("OPTIONS", {}):
        yield
        return
    request.getfixturevalue("django_db_setup")
    blocker = request.getfixturevalue("django_db_blocker")
    yield
    # Threads that used the ORM (concurrency tests) may still hold pooled connections.
    with blocker.unblock(), connections["default"].cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    connections["default"].close_pool()


# Debian's Chromium, with the flags that keep it off the (closed) network; no browser download.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def embedded_stack(tmp_path):
    """A real web server and worker process on the embedded broker, as `make run` starts them."""
    from tests.live import Stack

    with Stack(workdir=tmp_path, broker="embedded").serving() as stack:
        yield stack


# A form the server refuses answers 422 (or 429 over a limit), which htmx swaps in as the page
# asks; Chromium logs such a response as a failed resource, and that one is expected.
REFUSALS = (422, 429)


def watch_for_problems(page) -> list[str]:
    """Return the list that collects, as they happen, the page's console errors, uncaught
    exceptions and failed requests (a 404 favicon is one)."""
    problems: list[str] = []

    def on_console(message) -> None:
        refused = any(f"status of {code}" in message.text for code in REFUSALS)
        if message.type == "error" and not refused:
            problems.append(f"console: {message.text}")

    page.on("console", on_console)
    page.on("pageerror", lambda e: problems.append(f"exception: {e}"))
    # A request cut short by leaving the page (an htmx refresh in flight) is no failure.
    page.on(
        "requestfailed",
        lambda r: r.failure != "net::ERR_ABORTED" and problems.append(f"failed: {r.url}"),
    )
    page.on(
        "response",
        lambda r: (
            r.status >= 400 and r.status not in REFUSALS and problems.append(f"{r.status}: {r.url}")
        ),
    )
    return problems


@pytest.fixture
def page(monkeypatch):
    """A page in real Chromium; page.dialogs lists any alert() that fired (none may), and
    page.problems its console errors, uncaught exceptions and failed requests."""
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls the
    # test makes around it are still plain synchronous calls.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        context = browser.new_context(viewport={"width": 1366, "height": 900})
        page = context.new_page()
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.dialogs = dialogs
        page.problems = watch_for_problems(page)
        yield page
        browser.close()


@contextmanager
def slow_grading(seconds: float) -> Iterator[None]:
    """Grade as graders.grade_attempt does, `seconds` late: past a soft time limit set short."""
    grade = graders.grade_attempt

    def slow_grade(*args, **kwargs):
        time.sleep(seconds)
        return grade(*args, **kwargs)

    with patch("graders.grade_attempt", slow_grade):
        yield


def log_in(page, url: str, username: str) -> None:
    """Log in through the login page in the browser (`page`), as the user with PASSWORD, and
    wait for the course list it lands on."""
    page.goto(f"{url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{url}/")


@pytest.fixture
def private_redis(tmp_path):
    """A redis-server of this test's own (tests.sandbox.conftest.PrivateRedis), killed after."""
    from tests.sandbox.conftest import PrivateRedis

    server = PrivateRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.kill()


def post_at_once(
    user, url: str, data: dict, times: int = 5, headers: dict | None = None
) -> list[int]:
    """POST the same request `times` times at the same moment, each from a client and
    database connection of its own (a transactional test), and return the status codes."""
    barrier = threading.Barrier(times, timeout=10)
    codes: list[int] = []

    def post() -> None:
        client = Client()
        client.force_login(user)
        barrier.wait()
        try:
            codes.append(client.post(url, data, headers=headers or {}).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(times)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return codes
