"""S5: what the model and the judge say is never live HTML, on any page that shows it: the
learner's attempt, exercise and progress pages, and the instructor's review queue, drill-down,
gradebook and statistics. The payloads show as text."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest
from django.test import Client
from playwright.sync_api import expect

from lessons.models import Course
from lessons.review.models import Cohort, Membership
from sandbox.models import Attempt
from tests.conftest import (
    JUDGED_RUBRIC,
    log_in,
    make_attempt,
    make_exercise,
    make_user,
    run_queued,
)

pytestmark = pytest.mark.django_db

PAYLOADS = (
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "[x](javascript:alert(1))",
    '"><svg onload=alert(1)>',
    '<a href="data:text/html,<script>alert(1)</script>">y</a>',
)
XSS = " ".join(PAYLOADS)
OUTPUT = f"Hello {XSS}"  # one sentence: the judge quotes it whole as its evidence
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
HONEST = {
    "rules": [{"if": "say hello", "reply": OUTPUT}],
    "default": "No.",
    "judge": [{"item": "The reply greets the reader.", "if": "hello"}],
}
# A judge that answers the grade call with the payloads in prose: its answer is what the
# instructor reads when deciding.
SPEAKING = {
    "rules": [
        {"if": "one entry per rubric item", "reply": XSS},
        {"if": "say hello", "reply": OUTPUT},
    ],
    "default": "No.",
}


class LiveMarkup(HTMLParser):
    """Collect what a browser would run in a page: inline scripts, event handler attributes,
    and links or sources with a javascript: or data: URL (escaped text is none of them)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "iframe", "object", "embed") and not dict(attrs).get("src"):
            self.found.append(f"<{tag}>")
        if tag in ("script", "iframe", "object", "embed", "img", "svg") and dict(attrs).get("src"):
            if tag != "script" or not (dict(attrs)["src"] or "").startswith("/static/"):
                self.found.append(f"<{tag} src>")
        for name, value in attrs:
            url = re.sub(r"[\s\x00-\x1f]", "", value or "").lower()
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}>")
            elif name in URL_ATTRIBUTES and url.startswith(("javascript:", "data:", "vbscript:")):
                self.found.append(f"<{tag} {name}={value}>")


URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "hx-get", "hx-post"}


def live_markup(html: str) -> list[str]:
    """Return the payloads' pieces that are live in html: tags and attributes, not text."""
    found = [tag for tag in ("<script>alert", "<img src=x", "<svg onload") if tag in html]
    parser = LiveMarkup()
    parser.feed(html)
    return found + parser.found


def payload_world() -> dict:
    """Alice's graded attempts on two judged exercises of Ines's course, in her cohort: one
    judged by the honest stub judge, one whose judge answers the payloads in prose."""
    learner, instructor = make_user("alice"), make_user("ines", is_staff=True)
    honest_rubric = json.loads(json.dumps(JUDGED_RUBRIC))
    honest_rubric["criteria"][1]["params"]["model"] = "stub:judge"
    honest = make_exercise(slug="honest", rubric=honest_rubric, stub=HONEST)
    speaking = make_exercise(slug="speaking", rubric=JUDGED_RUBRIC, stub=SPEAKING)
    course = Course.objects.get(slug="basics")
    course.instructors.add(instructor)
    cohort = Cohort.objects.create(course=course, name="Spring")
    Membership.objects.create(cohort=cohort, learner=learner)
    attempts = [make_attempt(learner, exercise) for exercise in (honest, speaking)]
    run_queued()
    for attempt in attempts:
        attempt.refresh_from_db()
        assert attempt.status == Attempt.GRADED, attempt.error
        assert attempt.runs.get().output == OUTPUT
    return {
        "learner": learner,
        "instructor": instructor,
        "exercises": (honest, speaking),
        "attempts": attempts,
        "cohort": cohort,
    }


@pytest.fixture
def world(db):
    return payload_world()


def review_pages(world) -> list[str]:
    cohort, learner = world["cohort"].pk, world["learner"].pk
    pages = ["/teach/review/", f"/teach/cohorts/{cohort}/"]
    for exercise in world["exercises"]:
        pages.append(f"/teach/cohorts/{cohort}/exercises/{exercise.pk}/")
        pages.append(f"/teach/cohorts/{cohort}/learners/{learner}/exercises/{exercise.pk}/")
    return pages


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_learners_pages_show_the_output_and_judge_feedback_as_text(world):
    client = logged_in(world["learner"])
    pages = [f"/attempts/{a.id}/" for a in world["attempts"]]
    pages += [e.get_absolute_url() for e in world["exercises"]]
    pages.append("/progress/basics/")
    for url in pages:
        for headers in ({}, {"HX-Request": "true"}):
            response = client.get(url, headers=headers)
            assert response.status_code in (200, 286), url  # 286: a graded attempt stops polling
            assert live_markup(response.content.decode()) == [], url
    attempt_page = client.get(pages[0]).content.decode()
    assert ESCAPED in attempt_page and "onerror=alert(1)" in attempt_page


def test_the_instructors_review_pages_show_output_and_judge_answers_as_text(world):
    client = logged_in(world["instructor"])
    pages = review_pages(world)
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        assert live_markup(response.content.decode()) == [], url
    queue = client.get("/teach/review/").content.decode()
    assert "The judge could not decide" in queue
    assert queue.count(ESCAPED) >= 2, "the output and the judge's answer, each as text"
    drilldown = client.get(pages[-1]).content.decode()
    assert ESCAPED in drilldown
    honest = client.get(pages[-3]).content.decode()  # the honest judge quotes the payloads
    assert f"met 5/5 (&quot;Hello {ESCAPED}" in honest


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_no_payload_runs_in_chromium_on_any_of_these_pages(embedded_stack, page):
    world = payload_world()
    base = embedded_stack.url
    log_in(page, base, "alice")
    for url in [f"/attempts/{a.id}/" for a in world["attempts"]] + ["/progress/basics/"]:
        page.goto(base + url)
        page.wait_for_load_state("networkidle")
        if url.startswith("/attempts/"):
            expect(page.locator(".output").first).to_contain_text("<script>alert(1)</script>")
    page.context.clear_cookies()
    log_in(page, base, "ines")
    for url in review_pages(world):
        page.goto(base + url)
        page.wait_for_load_state("networkidle")
    lesson = world["exercises"][0].lesson
    page.goto(f"{base}/teach/courses/basics/lessons/{lesson.pk}/")
    page.locator("#id_body").fill(f"# Payloads\n\n{XSS}\n")
    expect(page.locator("#lesson-preview h1")).to_have_text("Payloads")
    page.wait_for_load_state("networkidle")
    assert page.dialogs == []


# Short enough for a test case's name (100 characters) and a cohort's.
SHORT = '"><svg onload=alert(1)><img src=x onerror=alert(1)>'
# What a spreadsheet would run as a formula if a CSV cell started with it.
FORMULA = '=HYPERLINK("http://x","y")'


def everything_world() -> dict:
    """payload_world, with the payloads in every text people write too: the course, lesson,
    exercise (title, instructions, hints, a rubric's feedback and judge items), a test case's
    name and values, the cohort, the learner's name, an override's reason, a decision's note;
    and a publish check and a regrade, so every URL of the URLconf has its objects."""
    from lessons.authoring import publishing
    from lessons.models import Case, Lesson, PublishCheck, Regrade
    from lessons.review import decisions

    world = payload_world()
    learner, instructor = world["learner"], world["instructor"]
    course = Course.objects.get(slug="basics")
    course.title, course.description = f"{FORMULA} {SHORT}", XSS
    course.save()
    Lesson.objects.update(title=f"{FORMULA} {SHORT}", body=XSS)
    for exercise in world["exercises"]:
        exercise.title, exercise.instructions = f"{FORMULA} {SHORT}", XSS
        exercise.hints = [XSS, XSS]
        rubric = json.loads(json.dumps(exercise.rubric))
        rubric["criteria"][0]["feedback"] = {"pass": XSS, "fail": XSS}
        rubric["criteria"][0]["title"] = SHORT
        exercise.rubric = rubric
        exercise.save()
    Case.objects.update(name=f"{FORMULA} {SHORT}"[:100], variables={"name": XSS})
    learner.first_name, learner.last_name = SHORT, FORMULA
    learner.save()
    cohort = world["cohort"]
    cohort.name = f"{FORMULA} {SHORT}"
    cohort.save()
    honest, speaking = world["attempts"]
    honest.runs.update(case_name=f"{FORMULA} {SHORT}"[:100])
    decisions.override(honest, 0.5, f"{FORMULA} {XSS}", instructor)
    run = speaking.runs.get()
    decisions.decide(run, "friendly", True, f"{FORMULA} {XSS}", instructor)
    exercise = world["exercises"][0]
    reference = Attempt.objects.create(
        learner=instructor, **publishing.reference_attempt_fields(exercise)
    )
    check = PublishCheck.objects.create(
        exercise=exercise, reference=reference, reason=PublishCheck.RECHECK, definition=""
    )
    regrade = Regrade.objects.create(exercise=exercise, requested_by=instructor)
    world["ids"] = {
        "course_slug": "basics",
        "lesson_slug": exercise.lesson.slug,
        "exercise_slug": exercise.slug,
        "lesson_id": exercise.lesson_id,
        "exercise_id": exercise.pk,
        "exercise": exercise.pk,
        "check_id": check.pk,
        "regrade_id": regrade.pk,
        "cohort_id": cohort.pk,
        "learner_id": learner.pk,
        "attempt_id": honest.pk,
        "attempt": honest.pk,
        "code": cohort.join_code,
    }
    return world


def every_page(ids: dict) -> list[str]:
    """Return the URL of every pattern of the URLconf (the admin's aside), with these ids."""
    from django.urls import URLPattern, URLResolver, get_resolver

    def walk(patterns, prefix=""):
        for p in patterns:
            if isinstance(p, URLResolver):
                if not str(p.pattern).startswith("admin/"):
                    yield from walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern) and p.name != "logout":
                yield "/" + prefix + str(p.pattern)

    fill = lambda m: str(ids[m.group(1)])  # noqa: E731
    return [re.sub(r"<(?:\w+:)?(\w+)>", fill, route) for route in walk(get_resolver().url_patterns)]


def formula_cells(csv_text: str) -> list[str]:
    """Return the cells of a CSV a spreadsheet would read as a formula."""
    import csv
    import io

    cells = [cell for row in csv.reader(io.StringIO(csv_text)) for cell in row]
    return [cell for cell in cells if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]


def test_no_page_of_the_site_shows_anything_people_or_models_wrote_as_live_html(db):
    """Every URL of the URLconf, as the learner and as the instructor, as a page and as the
    part htmx asks for: the payloads in every text people write and the model says are never
    live markup, and no CSV cell is a formula."""
    world = everything_world()
    pages = every_page(world["ids"])
    seen = shown = 0
    for user in (world["learner"], world["instructor"]):
        client = logged_in(user)
        for url in pages:
            for headers in ({}, {"HX-Request": "true"}):
                response = client.get(url, headers=headers)
                if response.status_code >= 300 and response.status_code != 422:
                    continue  # not this user's, or a redirect to a page listed anyway
                seen += 1
                if response.streaming:  # a CSV: text a browser downloads, never renders
                    assert response["Content-Disposition"].startswith("attachment;"), url
                    text = b"".join(response.streaming_content).decode()
                    assert formula_cells(text) == [], url
                    assert "'=HYPERLINK" in text, url
                    continue
                text = response.content.decode()
                assert live_markup(text) == [], (user.username, url, headers)
                shown += "&lt;svg onload=alert(1)&gt;" in text
    assert seen > 60 and shown > 30
    # A message naming what people wrote: the cohort and course, once joined.
    joined = logged_in(make_user("carol")).post(f"/join/{world['ids']['code']}/", follow=True)
    assert "You joined" in joined.content.decode()
    assert live_markup(joined.content.decode()) == []
