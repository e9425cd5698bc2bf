"""The exercise statistics page: a cohort's figures on one exercise, from its members' Progress
rows only, in a fixed number of queries; judge agreement per judge version."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from lessons.models import Course, Exercise
from lessons.review.models import Cohort, Decision, Membership, Override
from lessons.review.progress import refresh
from sandbox.models import Attempt, Run, UsageRecord
from tests.conftest import JUDGED_RUBRIC, make_attempt, make_exercise, make_run, make_user

pytestmark = pytest.mark.django_db

CASES = [
    {"name": "Ada", "variables": {"name": "Ada"}},
    {"name": "Secret case", "variables": {"name": "Zanzibar"}, "visibility": "hide"},
]
CRITERIA = ("greets", "short")
START = timezone.now() - timedelta(days=1)


def graded(learner, exercise: Exercise, *runs: tuple[str, ...], output: str = "Hi") -> Attempt:
    """A graded attempt with one run per test case, in order; each run fails the criteria
    named for it (none: it passed)."""
    count = Attempt.objects.count()  # each attempt a minute after the one before
    passed = not any(runs)
    attempt = make_attempt(
        learner,
        exercise,
        status=Attempt.GRADED,
        score=sum(not failed for failed in runs) / len(runs),
        passed=passed,
        created_at=START + timedelta(minutes=count),
    )
    for position, (case, failed) in enumerate(zip(exercise.cases.all(), runs, strict=False)):
        make_run(
            attempt,
            position,
            case=case,
            case_name=case.name,
            hidden=case.hidden,
            passed=not failed,
            output=output,
            criteria=[{"id": c, "kind": "contains", "passed": c not in failed} for c in CRITERIA],
        )
    refresh(learner.pk, exercise.pk)
    return attempt


def spend(learner, attempt: Attempt, tokens: int, cost: str) -> None:
    UsageRecord.objects.create(
        learner=learner,
        attempt=attempt,
        backend="stub",
        model="scripted",
        input_tokens=tokens,
        output_tokens=tokens // 2,
        cost_usd=Decimal(cost),
    )
    refresh(learner.pk, attempt.exercise_id)


def cohort_of(*learners, name: str = "Spring") -> Cohort:
    cohort = Cohort.objects.create(course=Course.objects.get(slug="basics"), name=name)
    for learner in learners:
        Membership.objects.create(cohort=cohort, learner=learner)
    return cohort


def stats_url(cohort: Cohort, exercise: Exercise) -> str:
    return reverse("ls-teach-exercise-stats", args=[cohort.pk, exercise.pk])


def stat(html: str, name: str) -> str:
    match = re.search(rf'data-stat="{name}">([^<]*)<', html)
    assert match, name
    return match.group(1)


@pytest.fixture
def cohort_data(instructor, learner, other_learner):
    """Spring: Alice passes on her second try, Bob on his first, Carol never; Dave (not in
    Spring) and Eve (in another cohort) fail too, and must not count."""
    exercise = make_exercise(cases=CASES)
    carol, dave, eve = make_user("carol"), make_user("dave"), make_user("eve")
    cohort = cohort_of(learner, other_learner, carol)
    cohort_of(eve, name="Autumn")
    first = graded(learner, exercise, (), ("short",))
    graded(learner, exercise, (), ())
    graded(other_learner, exercise, (), ())
    graded(carol, exercise, ("greets", "short"), ("greets", "short"), output="<b>Hi</b>")
    graded(carol, exercise, (), ("short",), output="x" * 700)
    for _ in range(3):
        spend(dave, graded(dave, exercise, ("greets",), ("greets",)), 1000, "1.00")
    graded(eve, exercise, ("greets",), ("greets",))
    spend(learner, first, 120, "0.0125")
    return cohort, exercise, carol


def test_the_cohorts_figures_count_its_members_only(ines_client, cohort_data):
    cohort, exercise, _ = cohort_data
    response = ines_client.get(stats_url(cohort, exercise))
    assert response.status_code == 200
    html = response.content.decode()
    summary = response.context["summary"]
    assert (summary.attempts, summary.tried, summary.passed, summary.first_try_passed) == (
        5,
        3,
        2,
        1,
    )
    assert stat(html, "attempts") == "5"
    assert stat(html, "tried") == "3"
    assert stat(html, "first-try") == "33%"
    assert stat(html, "median") == "1.5"  # Alice took 2, Bob 1
    assert stat(html, "cost") == "$0.0125"  # Dave's dollars are not Spring's
    assert stat(html, "tokens") == "120 tokens in, 60 out"
    assert "of 3 in the cohort" in html
    # Best scores: Alice and Bob 100%, Carol 50%.
    assert summary.histogram == [0, 0, 0, 0, 0, 1, 0, 0, 0, 2]
    assert "best score of each learner who tried" in html.lower()


def test_a_wide_table_is_a_region_a_keyboard_scrolls_named_apart_from_its_section(
    ines_client, cohort_data
):
    """A phone scrolls the tables sideways: each box is focusable, and a region named by its
    caption, as two landmarks named by one heading could not be told apart."""
    cohort, exercise, _ = cohort_data
    html = ines_client.get(stats_url(cohort, exercise)).content.decode()
    boxes = re.findall(r'<div class="table-scroll"([^>]*)>', html)
    assert len(boxes) >= 2
    assert all('role="region"' in box and 'tabindex="0"' in box for box in boxes)
    names = re.findall(r'<(?:section|div)[^>]* aria-labelledby="([^"]+)"', html)
    assert "cases-caption" in names and 'id="cases-caption"' in html
    assert len(names) == len(set(names))


def test_the_hidden_case_that_trips_learners_tops_the_case_table(ines_client, cohort_data):
    cohort, exercise, _ = cohort_data
    response = ines_client.get(stats_url(cohort, exercise))
    cases = [(c.name, c.hidden, c.passed, c.runs) for c in response.context["cases"]]
    assert cases == [("Secret case", True, 2, 5), ("Ada", False, 4, 5)]
    html = response.content.decode()
    secret = html[html.index('data-case="Secret case"') : html.index('data-case="Ada"')]
    assert "hidden" in secret and "lowest" in secret and "40%" in secret


def test_cases_at_one_pass_rate_are_none_of_them_the_lowest(ines_client, instructor, learner):
    exercise = make_exercise(cases=[*CASES, {"name": "Bea", "variables": {"name": "Bea"}}])
    cohort = cohort_of(learner)
    graded(learner, exercise, ("short",), ("short",), ("greets",))
    graded(learner, exercise, (), (), ())
    html = ines_client.get(stats_url(cohort, exercise)).content.decode()
    assert "50%" in html and "lowest</span>" not in html
    graded(learner, exercise, (), ("short",), ())  # the secret case 1 of 3, Ada and Bea 2 of 3
    html = ines_client.get(stats_url(cohort, exercise)).content.decode()
    assert html.count("lowest</span>") == 1
    secret = html[html.index('data-case="Secret case"') : html.index('data-case="Ada"')]
    assert "lowest</span>" in secret


def test_runs_of_deleted_test_cases_are_counted_apart(ines_client, cohort_data):
    cohort, exercise, _ = cohort_data
    exercise.cases.get(name="Ada").delete()
    response = ines_client.get(stats_url(cohort, exercise))
    cases = [(c.name, c.passed, c.runs) for c in response.context["cases"]]
    assert cases == [("Secret case", 2, 5), ("Deleted test cases", 4, 5)]


def test_failure_groups_are_largest_first_with_an_escaped_truncated_sample(
    ines_client, cohort_data
):
    cohort, exercise, carol = cohort_data
    response = ines_client.get(stats_url(cohort, exercise))
    groups = [(row.group.criteria, row.group.count) for row in response.context["groups"]]
    assert groups == [(("short",), 2), (("greets", "short"), 1)]
    assert response.context["most_failed"] == [
        ("short", "", 3),
        ("greets", "Ask it to say hello.", 1),
    ]
    small = response.context["groups"][1].sample
    assert (small.username, small.case_name, small.output) == ("carol", "Ada", "<b>Hi</b>")
    html = response.content.decode()
    assert "&lt;b&gt;Hi&lt;/b&gt;" in html and "<b>Hi</b>" not in html
    drilldown = reverse("ls-teach-drilldown", args=[cohort.pk, carol.pk, exercise.pk])
    assert drilldown in html
    # Carol's and Alice's {short} groups tie: the sample is from Carol, who tried last; the
    # output of its first failing run (the hidden case) is cut to 600 characters.
    big = response.context["groups"][0].sample
    assert (big.username, big.case_name, len(big.output), big.truncated) == (
        "carol",
        "Secret case",
        600,
        True,
    )
    assert "x" * 600 + "…" in html and "x" * 601 not in html
    # An instructor reads that the sample is an output its learner never saw.
    assert big.hidden and not small.hidden
    line = html[html.index("Sample: carol's output on “Secret case”") :]
    assert line[: line.index("</p>")].count("hidden from the learner") == 1


def test_attempts_waiting_for_review_are_shown_apart_from_the_failure_groups(
    ines_client, instructor, learner, other_learner
):
    exercise = make_exercise(cases=CASES)
    cohort = cohort_of(learner, other_learner)
    graded(other_learner, exercise, ("greets",), ())
    waiting = make_attempt(learner, exercise, status=Attempt.GRADED, score=0.5, passed=False)
    for position, case in enumerate(exercise.cases.all()):
        judge = {"id": "greets", "kind": "llm_judge", "passed": False, "status": "needs_review"}
        short = {"id": "short", "kind": "contains", "passed": True, "status": "ok"}
        make_run(waiting, position, case=case, passed=False, criteria=[judge, short])
    refresh(learner.pk, exercise.pk)

    response = ines_client.get(stats_url(cohort, exercise))
    groups = [(row.group.criteria, row.group.count) for row in response.context["groups"]]
    assert groups == [(("greets",), 1)]  # Bob's; the judge has not failed Alice yet
    assert response.context["most_failed"] == [("greets", "Ask it to say hello.", 1)]
    assert response.context["waiting"] == [("greets", 1)]
    # Nor has any of her runs failed its case: Bob's runs alone are counted.
    rates = {case.name: (case.passed, case.runs) for case in response.context["cases"]}
    assert rates == {"Ada": (0, 1), "Secret case": (1, 1)}
    html = response.content.decode()
    section = html[html.index("data-waiting") :]
    assert "1 attempt not passed has a criterion the judge could not decide" in section
    assert reverse("ls-teach-review-queue") in section


def test_a_failure_group_of_attempts_an_override_failed_says_so(
    ines_client, instructor, learner, other_learner
):
    exercise = make_exercise(cases=CASES)
    cohort = cohort_of(learner, other_learner)
    attempt = graded(learner, exercise, (), ())
    Override.objects.create(
        attempt=attempt, score=0.3, passed=False, reason="Copied", by=instructor
    )
    refresh(learner.pk, exercise.pk)
    html = ines_client.get(stats_url(cohort, exercise)).content.decode()
    group = html[html.index('class="failure-group"') :]
    group = group[: group.index("</li>")]
    assert "an instructor's override set the score to a fail" in group
    assert "stayed under the pass threshold" not in group


def test_a_cohort_where_nobody_tried_shows_empty_figures(ines_client, instructor, learner):
    exercise = make_exercise()
    cohort = cohort_of(learner)
    response = ines_client.get(stats_url(cohort, exercise))
    html = response.content.decode()
    assert response.status_code == 200
    assert stat(html, "first-try") == "—" and stat(html, "median") == "—"
    assert "No learner of this cohort has a graded attempt" in html
    assert "<svg" not in html


def test_learners_whose_every_attempt_ended_in_error_are_counted_apart_from_who_tried(
    ines_client, cohort_data
):
    cohort, exercise, carol = cohort_data
    frank, eve = make_user("frank"), User.objects.get(username="eve")
    Membership.objects.create(cohort=cohort, learner=frank)
    for who, code in ((frank, "provider"), (frank, "time_limit"), (carol, "budget"), (eve, "x")):
        make_attempt(who, exercise, status=Attempt.ERROR, error_code=code)
    html = ines_client.get(stats_url(cohort, exercise)).content.decode()
    # Frank is stuck; Carol had graded attempts, and Eve is in another cohort.
    assert stat(html, "tried") == "3"
    assert stat(html, "stuck").startswith("and 1 more tried with no attempt graded")


def test_a_learner_with_an_attempt_still_running_is_not_counted_stuck_on_errors(
    ines_client, instructor, learner
):
    # The gradebook shows this work as in progress: its next attempt may well be graded.
    exercise = make_exercise()
    cohort = cohort_of(learner)
    make_attempt(learner, exercise, status=Attempt.ERROR, error_code="time_limit")
    make_attempt(learner, exercise, status=Attempt.RUNNING)
    html = ines_client.get(stats_url(cohort, exercise)).content.decode()
    assert 'data-stat="stuck"' not in html
    assert "every attempt of theirs ended in error" not in html


def test_a_cohort_stuck_on_errors_says_so_where_the_chart_would_be(
    ines_client, instructor, learner
):
    exercise = make_exercise()
    cohort = cohort_of(learner)
    make_attempt(learner, exercise, status=Attempt.ERROR, error_code="poison")
    html = ines_client.get(stats_url(cohort, exercise)).content.decode()
    assert stat(html, "tried") == "0"
    assert "1 tried, and every attempt of theirs ended in error" in html


def test_only_the_courses_instructors_see_it(client, cohort_data, other_instructor, learner):
    cohort, exercise, _ = cohort_data
    for user in (other_instructor, learner):
        client.force_login(user)
        assert client.get(stats_url(cohort, exercise)).status_code == 404


def test_an_exercise_of_another_course_is_not_found_in_this_cohort(
    ines_client, cohort_data, other_instructor
):
    cohort, _, _ = cohort_data
    elsewhere = make_exercise(slug="other-greet")
    elsewhere.lesson.course = Course.objects.get(slug="other")
    elsewhere.lesson.save(update_fields=["course"])
    assert ines_client.get(stats_url(cohort, elsewhere)).status_code == 404


def judged_attempts(cohort_learners, exercise: Exercise, n: int) -> list[Run]:
    runs = []
    for index in range(n):
        learner = cohort_learners[index % len(cohort_learners)]
        attempt = make_attempt(learner, exercise, status=Attempt.GRADED, score=0, passed=False)
        runs.append(make_run(attempt, case=exercise.cases.first(), passed=False))
    return runs


def label(run: Run, version: str, judge: bool | None, met: bool) -> None:
    Decision.objects.create(
        run=run,
        criterion_id="friendly",
        met=met,
        judge_passed=judge,
        judge_status="ok" if judge is not None else "needs_review",
        judge_version=version,
    )


def test_judge_agreement_per_version_marks_the_current_one(
    ines_client, instructor, learner, other_learner
):
    exercise = make_exercise(rubric=JUDGED_RUBRIC)
    current = exercise.parsed_rubric.model_criteria["friendly"].definition[:12]
    cohort = cohort_of(learner)
    runs = judged_attempts([learner], exercise, 7)
    for run, judge, met in zip(
        runs[:4], (True, False, True, None), (True, False, False, True), strict=True
    ):
        label(run, current, judge, met)
    for run in runs[4:]:
        label(run, "0ld0ld0ld0ld", True, True)  # a judge that said yes, all agreed
    outsider = judged_attempts([other_learner], exercise, 1)[0]
    label(outsider, current, True, False)  # not in the cohort: not counted

    response = ines_client.get(stats_url(cohort, exercise))
    (judge,) = response.context["judges"]
    assert judge.criterion_id == "friendly" and judge.text == "The reply greets the reader."
    now, old = judge.versions
    assert (now.version, now.current, now.labels, now.judged) == (current, True, 4, 3)
    assert now.accuracy == pytest.approx(2 / 3)
    assert now.kappa == pytest.approx(0.4)
    assert (old.current, old.labels, old.accuracy, old.kappa) == (False, 3, 1.0, None)
    html = response.content.decode()
    assert "current</span>" in html and "67%" in html
    assert re.findall(r"data-kappa>([^<]*)<", html) == ["0.40", "—"]


def test_a_judge_with_no_decisions_yet_says_so(ines_client, instructor, learner):
    exercise = make_exercise(rubric=JUDGED_RUBRIC)
    response = ines_client.get(stats_url(cohort_of(learner), exercise))
    assert "No review decisions on this criterion yet" in response.content.decode()


def test_a_rubric_without_judges_has_no_agreement_section(ines_client, cohort_data):
    cohort, exercise, _ = cohort_data
    assert "Judge agreement" not in ines_client.get(stats_url(cohort, exercise)).content.decode()


def queries_for(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_the_page_makes_the_same_queries_for_two_learners_or_many(ines_client, instructor):
    exercise = make_exercise(cases=CASES, rubric=JUDGED_RUBRIC)
    learners = [make_user(f"learner{i}") for i in range(12)]
    cohort = cohort_of(*learners[:2])
    for learner in learners[:2]:
        graded(learner, exercise, ("greets",), ())
    label(judged_attempts(learners[:2], exercise, 1)[0], "v1", True, True)
    few = queries_for(ines_client, stats_url(cohort, exercise))

    for learner in learners[2:]:
        Membership.objects.create(cohort=cohort, learner=learner)
        graded(learner, exercise, ("short",), ("greets",))
        graded(learner, exercise, (), ("greets", "short"))
        graded(learner, exercise, (), ())
    for run in judged_attempts(learners, exercise, 6):
        label(run, "v2", False, True)
    many = queries_for(ines_client, stats_url(cohort, exercise))
    assert many == few
