"""The needs-review queue: open items of the courses I teach only, oldest first, filtered,
paginated, each with its output and a decision form, in a fixed number of queries."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from lessons.models import Course, Exercise, Lesson
from lessons.review.models import Cohort, Membership, ReviewItem
from lessons.review.progress import refresh
from sandbox.models import Attempt
from tests.conftest import make_attempt, make_exercise, make_run, make_user

pytestmark = pytest.mark.django_db

QUEUE = reverse("ls-teach-review-queue")
JUDGE_SAID = "The judge's answer was not JSON."


def waiting(learner, exercise: Exercise, output: str = "Hello there!", **result) -> ReviewItem:
    """A graded attempt whose output waits for review on "greets", and its open item."""
    attempt = make_attempt(learner, exercise, status=Attempt.GRADED, score=0.5, passed=False)
    result.setdefault("status", "needs_review")
    make_run(
        attempt,
        case=exercise.cases.first(),
        case_name="Ada",
        passed=False,
        output=output,
        criteria=[
            {"id": "greets", "kind": "contains", "passed": False, "detail": JUDGE_SAID, **result},
            {"id": "short", "kind": "word_count", "passed": True, "status": "ok"},
        ],
    )
    refresh(learner.pk, exercise.pk)
    return ReviewItem.objects.filter(attempt=attempt).latest("id")


def other_course_exercise() -> Exercise:
    course = Course.objects.get(slug="other")
    lesson = Lesson.objects.create(course=course, slug="elsewhere", title="Elsewhere")
    exercise = make_exercise(slug="elsewhere")
    exercise.lesson = lesson
    exercise.save(update_fields=["lesson"])
    return exercise


def shown(response) -> list[int]:
    return [int(pk) for pk in re.findall(r'data-item="(\d+)"', response.content.decode())]


def test_an_item_shows_who_what_why_the_output_and_a_decision_form(ines_client, learner):
    exercise = make_exercise()
    item = waiting(learner, exercise, output="<script>alert(1)</script> Hello")
    response = ines_client.get(QUEUE)
    assert response.status_code == 200
    html = response.content.decode()
    assert shown(response) == [item.pk]
    for text in ("alice", "Greet someone", "Basics", "Ada", "The judge could not decide"):
        assert text in html
    assert "<code>greets</code> — Ask it to say hello." in html
    assert JUDGE_SAID.replace("'", "&#x27;") in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Hello" in html and "<script>alert" not in html
    # Focusable, to scroll a long one; an aria-label on a <pre> (no role) is read by few.
    assert '<pre class="output" tabindex="0" dir="auto">&lt;script&gt;' in html
    form = html[html.index('<form method="post" action="/teach/') :]
    form = form[: form.index("</form>")]
    assert f'action="{reverse("ls-teach-decide", args=[item.attempt_id])}"' in form
    assert f'name="run" value="{item.run_id}"' in form
    assert 'name="criterion" value="greets"' in form
    assert f'name="next" value="{QUEUE}"' in form
    assert re.search(r'<button[^>]*name="met" value="1">Met</button>', form)
    assert re.search(r'<button[^>]*name="met" value="0">Not met</button>', form)
    assert f'<label for="note-{item.pk}">' in form and f'id="note-{item.pk}" name="note"' in form


def test_each_decision_form_has_a_name_of_its_own(ines_client, learner):
    """A named form is a landmark: two named alike (one learner's outputs on one case, in two
    attempts) cannot be told apart in a screen reader's list of landmarks."""
    exercise = make_exercise()
    waiting(learner, exercise)
    waiting(learner, exercise)
    html = ines_client.get(QUEUE).content.decode()
    names = re.findall(r'class="decide-form" aria-label="([^"]+)"', html)
    assert names == [f"Decide greets for alice on “Ada” (output {n})" for n in (1, 2)]


def test_a_suspected_injection_says_so(ines_client, learner):
    waiting(learner, make_exercise(), status="ok", suspected_injection=True)
    assert "Suspected injection" in ines_client.get(QUEUE).content.decode()


def test_long_outputs_are_cut(ines_client, learner):
    waiting(learner, make_exercise(), output="y" * 5000)
    html = ines_client.get(QUEUE).content.decode()
    assert "y" * 4000 + "…" in html and "y" * 4001 not in html


def test_the_drilldown_is_linked_through_the_learners_first_cohort_of_that_course(
    ines_client, learner, other_learner
):
    exercise = make_exercise()
    course = exercise.lesson.course
    waiting(learner, exercise)
    waiting(other_learner, exercise)  # in no cohort: no link
    Cohort.objects.create(course=Course.objects.create(slug="x", title="X"), name="A elsewhere")
    late = Cohort.objects.create(course=course, name="B later")
    early = Cohort.objects.create(course=course, name="A first")
    for cohort in (late, early):
        Membership.objects.create(cohort=cohort, learner=learner)
    html = ines_client.get(QUEUE).content.decode()
    assert reverse("ls-teach-drilldown", args=[early.pk, learner.pk, exercise.pk]) in html
    assert f"/learners/{other_learner.pk}/" not in html
    assert html.count("s attempts</a>") == 1


def test_only_open_items_of_the_courses_i_teach_are_shown_oldest_first(
    ines_client, learner, other_learner, other_instructor
):
    exercise = make_exercise()
    newer = waiting(learner, exercise)
    older = waiting(other_learner, exercise)
    older.created_at = timezone.now() - timedelta(days=2)
    older.save(update_fields=["created_at"])
    resolved = waiting(learner, exercise)
    ReviewItem.objects.filter(pk=resolved.pk).update(resolved_at=timezone.now())
    elsewhere = waiting(learner, other_course_exercise())
    assert shown(ines_client.get(QUEUE)) == [older.pk, newer.pk]

    ines_client.force_login(other_instructor)
    assert shown(ines_client.get(QUEUE)) == [elsewhere.pk]


def test_learners_do_not_find_it_and_staff_without_courses_see_an_empty_queue(
    client, learner, other_learner
):
    waiting(other_learner, make_exercise())
    client.force_login(learner)
    assert client.get(QUEUE).status_code == 404
    client.force_login(make_user("sam", is_staff=True))
    response = client.get(QUEUE)
    assert response.status_code == 200 and shown(response) == []
    assert "Nothing waits for your review" in response.content.decode()


def test_the_queue_filters_by_course_and_reason(ines_client, instructor, learner, other_instructor):
    exercise = make_exercise()
    judged = waiting(learner, exercise)
    injected = waiting(learner, exercise, status="ok", suspected_injection=True)
    theirs = other_course_exercise()
    theirs.lesson.course.instructors.add(instructor)  # Ines co-teaches it
    other = waiting(learner, theirs)
    assert sorted(shown(ines_client.get(QUEUE))) == sorted([judged.pk, injected.pk, other.pk])
    assert shown(ines_client.get(QUEUE, {"course": "other"})) == [other.pk]
    assert shown(ines_client.get(QUEUE, {"reason": "injection"})) == [injected.pk]
    assert shown(ines_client.get(QUEUE, {"course": "basics", "reason": "needs_review"})) == [
        judged.pk
    ]
    # A course she does not teach is refused, not applied.
    response = ines_client.get(QUEUE, {"course": "nope"})
    assert "Select a valid choice" in response.content.decode()
    assert len(shown(response)) == 3
    nothing = ines_client.get(QUEUE, {"course": "other", "reason": "injection"})
    assert shown(nothing) == [] and "Nothing matches these filters" in nothing.content.decode()


def test_the_queue_is_paginated_by_25(ines_client, learner):
    exercise = make_exercise()
    items = [waiting(learner, exercise) for _ in range(27)]
    first = ines_client.get(QUEUE)
    assert shown(first) == [item.pk for item in items[:25]]
    assert "page 1 of 2" in first.content.decode()
    assert shown(ines_client.get(QUEUE, {"page": 2})) == [items[25].pk, items[26].pk]


def queries_for(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(QUEUE).status_code == 200
    return len(queries)


def test_the_queue_makes_the_same_queries_for_two_items_or_many(ines_client, instructor):
    exercise = make_exercise()
    second = make_exercise(slug="second", title="Second")
    cohort = Cohort.objects.create(course=exercise.lesson.course, name="Spring")
    learners = [make_user(f"learner{i}") for i in range(8)]
    for learner in learners[:2]:
        waiting(learner, exercise)
    Membership.objects.create(cohort=cohort, learner=learners[0])
    few = queries_for(ines_client)
    for learner in learners[2:]:
        Membership.objects.create(cohort=cohort, learner=learner)
        waiting(learner, exercise)
        waiting(learner, second, status="ok", suspected_injection=True)
    assert queries_for(ines_client) == few
