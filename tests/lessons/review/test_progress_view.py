"""The learner's own progress pages: per course (completion, best scores, the next exercise)
and per exercise (their attempts with diffs), showing only what a learner may see: their own
attempts, hidden cases as pass or fail, visible criteria, a decision's verdict, not its note."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from lessons.models import Exercise
from lessons.review.models import Decision, Override, Progress
from lessons.review.progress import refresh
from sandbox.models import Attempt
from tests.conftest import make_attempt, make_exercise, make_run

pytestmark = pytest.mark.django_db

COURSE_URL = "/progress/basics/"


def graded(learner, exercise, minutes: int, prompt: str, passed: bool, **run_fields) -> Attempt:
    attempt = make_attempt(
        learner,
        exercise,
        status=Attempt.GRADED,
        user_prompt=prompt,
        score=1.0 if passed else 0.4,
        passed=passed,
        created_at=timezone.now() - timedelta(minutes=minutes),
    )
    run_fields.setdefault("output", f"reply to {prompt}")
    make_run(attempt, 0, case_name="Ada", passed=passed, score=attempt.score, **run_fields)
    refresh(learner.pk, exercise.pk)
    return attempt


def exercise_url(exercise) -> str:
    return reverse("ls-progress-exercise", args=["basics", exercise.pk])


@pytest.fixture
def three(db) -> list[Exercise]:
    return [make_exercise(slug=f"ex{i}", title=f"Exercise {i}", position=i) for i in range(1, 4)]


def test_the_course_page_shows_completion_best_scores_and_the_next_exercise(
    alice_client, learner, three
):
    graded(learner, three[0], 5, "p", passed=True)
    graded(learner, three[1], 4, "p", passed=False)
    make_exercise(slug="draft", title="A draft", status=Exercise.DRAFT)
    html = alice_client.get(COURSE_URL).content.decode()
    assert "1 of 3 exercises passed" in html and "33%" in html
    assert "A draft" not in html
    # The next exercise: the first not passed, with Continue since it was tried.
    head, _, _ = html.partition('class="pg-lessons"')
    assert "Exercise 2" in head and ">Continue</a>" in head
    assert "40%" in html and "100%" in html
    assert exercise_url(three[0]) in html and exercise_url(three[2]) not in html


def test_a_course_not_started_says_start_and_one_done_says_so(alice_client, learner, three):
    html = alice_client.get(COURSE_URL).content.decode()
    assert ">Start</a>" in html and "Exercise 1" in html
    for exercise in three:
        graded(learner, exercise, 1, "p", passed=True)
    html = alice_client.get(COURSE_URL).content.decode()
    assert "You have passed every exercise of this course." in html


def test_work_never_graded_says_in_progress_or_errors_only_not_not_tried(
    alice_client, learner, three
):
    make_attempt(learner, three[0], status=Attempt.RUNNING)
    make_attempt(learner, three[1], status=Attempt.ERROR, error_code="budget", error="Over.")
    html = alice_client.get(COURSE_URL).content.decode()
    rows = {e.title: html[html.index(f">{e.title}</a>") :].split("</tr>")[0] for e in three}
    assert "In progress" in rows["Exercise 1"] and "Not tried" not in rows["Exercise 1"]
    assert "Errors only" in rows["Exercise 2"] and "1 attempt ended in error" in rows["Exercise 2"]
    assert exercise_url(three[1]) in rows["Exercise 2"]  # where the errors say why
    assert "Not tried" in rows["Exercise 3"]
    assert "Over." in alice_client.get(exercise_url(three[1])).content.decode()


def test_the_course_page_links_to_it(alice_client, three):
    html = alice_client.get("/courses/basics/").content.decode()
    assert f'href="{COURSE_URL}"' in html


def test_an_override_counts_as_the_best_score(alice_client, learner, instructor, three):
    attempt = graded(learner, three[0], 5, "p", passed=False)
    Override.objects.create(attempt=attempt, score=1.0, passed=True, reason="Fair", by=instructor)
    refresh(learner.pk, three[0].pk)
    assert "1 of 3 exercises passed" in alice_client.get(COURSE_URL).content.decode()
    html = alice_client.get(exercise_url(three[0])).content.decode()
    assert "Your instructor set this score to 100%" in html and "Fair" in html


def test_the_exercise_page_shows_the_learners_attempts_with_diffs(alice_client, learner, three):
    graded(learner, three[0], 5, "Greet {name}.", passed=False, output="Hi.")
    graded(learner, three[0], 1, "Say hello to {name}.", passed=True, output="Hello!")
    html = alice_client.get(exercise_url(three[0])).content.decode()
    assert "Attempt 2" in html and "Attempt 1" in html
    assert "Changes since attempt 1" in html
    assert "<del>Greet</del>" in html and "<ins>Say hello to</ins>" in html
    assert "<del>Hi.</del>" in html and "<ins>Hello!</ins>" in html


def test_hidden_runs_show_pass_or_fail_only_and_never_their_output(alice_client, learner):
    exercise = make_exercise(
        cases=[
            {"name": "Ada", "variables": {"name": "Ada"}},
            {"name": "Secret case", "variables": {"name": "Zanzibar"}, "visibility": "hide"},
        ]
    )
    for minutes, prompt in ((5, "one"), (1, "two")):
        attempt = make_attempt(
            learner,
            exercise,
            status=Attempt.GRADED,
            score=0.5,
            passed=False,
            user_prompt=prompt,
            created_at=timezone.now() - timedelta(minutes=minutes),
        )
        make_run(attempt, 0, case_name="Ada", output=f"hello Ada {prompt}", passed=True)
        make_run(
            attempt,
            1,
            case_name="Secret case",
            hidden=True,
            passed=False,
            output=f"hello Zanzibar {prompt}",
            messages=[{"role": "user", "content": "hello Zanzibar"}],
            criteria=[{"id": "secret-check", "passed": False, "detail": "Zanzibar missing"}],
        )
    html = alice_client.get(exercise_url(exercise)).content.decode()
    assert "Hidden case 2: failed" in html
    assert "Zanzibar" not in html and "Secret case" not in html and "secret-check" not in html
    assert "hello Ada two" in html


def test_invisible_criteria_and_decision_notes_are_not_shown(
    alice_client, learner, instructor, three
):
    attempt = graded(
        learner,
        three[0],
        1,
        "p",
        passed=True,
        criteria=[
            {"id": "shown", "passed": False, "detail": "plain detail", "visible": True},
            {"id": "backstage", "passed": False, "detail": "secret detail", "visible": False},
            {
                "id": "judged",
                "kind": "llm_judge",
                "passed": False,
                "status": "ok",
                "detail": "An instructor reviewed this: not met. Sloppy, between us.",
            },
        ],
    )
    Decision.objects.create(
        run=attempt.runs.get(),
        criterion_id="judged",
        met=False,
        note="Sloppy, between us.",
        decided_by=instructor,
    )
    html = alice_client.get(exercise_url(three[0])).content.decode()
    assert "plain detail" in html  # criteria are named for learners, not by id
    assert "backstage" not in html and "secret detail" not in html
    assert "An instructor reviewed this: not met." in html
    assert "Sloppy" not in html and "ines" not in html


def test_only_the_learners_own_attempts_are_shown(alice_client, learner, other_learner, three):
    graded(learner, three[0], 2, "alice's prompt", passed=False)
    graded(other_learner, three[0], 1, "bob's prompt", passed=True)
    html = alice_client.get(exercise_url(three[0])).content.decode()
    assert "alice&#x27;s prompt" in html and "bob" not in html
    assert html.count('class="card dd-attempt"') == 1
    course = alice_client.get(COURSE_URL).content.decode()
    assert "0 of 3 exercises passed" in course


def test_learner_text_is_escaped(alice_client, learner, three):
    graded(learner, three[0], 2, "plain", passed=False, output="fine")
    graded(learner, three[0], 1, "<script>alert(1)</script>", passed=False, output="<script>x")
    html = alice_client.get(exercise_url(three[0])).content.decode()
    assert "<script>alert" not in html and "<script>x" not in html
    assert "<ins>&lt;script&gt;" in html


def test_exercises_a_learner_cannot_open_are_not_found(alice_client, learner, three):
    draft = make_exercise(slug="draft", status=Exercise.DRAFT)
    assert alice_client.get(exercise_url(draft)).status_code == 404
    archived = make_exercise(slug="gone", archived=True)
    assert alice_client.get(exercise_url(archived)).status_code == 404
    wrong_course = reverse("ls-progress-exercise", args=["nope", three[0].pk])
    assert alice_client.get(wrong_course).status_code == 404
    assert alice_client.get("/progress/nope/").status_code == 404
    assert alice_client.get(exercise_url(three[0]) + "?page=2").status_code == 404


def test_anonymous_users_are_sent_to_log_in(client, three):
    for url in (COURSE_URL, exercise_url(three[0])):
        assert client.get(url)["Location"].startswith("/accounts/login/")


def queries_for(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_both_pages_make_the_same_queries_for_few_rows_or_many(alice_client, learner, three):
    graded(learner, three[0], 1, "p0", passed=False)
    graded(learner, three[0], 2, "p1", passed=False)
    course, exercise = (
        queries_for(alice_client, COURSE_URL),
        queries_for(alice_client, exercise_url(three[0])),
    )
    for index in range(10):
        make_exercise(slug=f"more{index}", position=10 + index)
        attempt = graded(learner, three[0], 3 + index, f"p{index}", passed=index == 5)
        make_run(attempt, 1, case_name="Hidden", hidden=True)
        Decision.objects.create(run=attempt.runs.first(), criterion_id="greets", met=True)
        graded(learner, three[1], 3 + index, f"q{index}", passed=False)
    assert queries_for(alice_client, COURSE_URL) == course
    assert queries_for(alice_client, exercise_url(three[0])) == exercise


def test_criteria_are_named_for_learners_never_by_id(alice_client, learner, three):
    criteria = [{"id": "greets", "kind": "contains", "passed": False, "visible": True}]
    graded(learner, three[0], 5, "p", passed=False, criteria=criteria)
    html = alice_client.get(exercise_url(three[0])).content.decode()
    assert "<strong>Mentions “hello”</strong>" in html
    assert "<strong>greets</strong>" not in html


def test_work_whose_only_attempt_failed_after_being_billed_has_no_score_or_tries(
    alice_client, learner
):
    # Progress keeps what a failed attempt was billed, in a row of no graded attempt.
    exercise = make_exercise()
    make_attempt(learner, exercise, status=Attempt.ERROR, error_code="time_limit")
    Progress.objects.create(learner=learner, exercise=exercise, input_tokens=9)
    for url, status in (
        (COURSE_URL, "Errors only"),
        (exercise.lesson.course.get_absolute_url(), "Errors only"),
    ):
        html = alice_client.get(url).content.decode()
        assert "None" not in html and "after 0 attempts" not in html
        assert status in html  # both pages tell errors from not tried
