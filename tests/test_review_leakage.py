"""Every review list, statistic and CSV holds exactly the rows its viewer may see: 3 learners,
2 courses, 2 instructors. Alpha's instructor sees Alpha's cohort members (gradebook, CSVs,
statistics) and every attempt on Alpha's exercises (the review queue); nothing of Beta. A
learner sees only their own work."""

from __future__ import annotations

import csv
import io
import re

import pytest
from django.test import Client

from lessons.models import Case, Cohort, Course, Exercise, Lesson, Membership
from lessons.review.models import ReviewItem
from sandbox.models import Attempt
from tests.conftest import JUDGED_RUBRIC, UNDECIDED_JUDGE_STUB, make_attempt, make_user, run_queued

pytestmark = pytest.mark.django_db


def exercise_in(slug: str, instructor) -> Exercise:
    course = Course.objects.create(slug=slug, title=slug.title())
    course.instructors.add(instructor)
    lesson = Lesson.objects.create(course=course, slug="one", title="One")
    exercise = Exercise.objects.create(
        lesson=lesson,
        slug=f"{slug}-greet",
        title=f"{slug.title()} greeting",
        status=Exercise.PUBLISHED,
        editable_fields=["user"],
        variables=["name"],
        rubric=JUDGED_RUBRIC,
        stub=UNDECIDED_JUDGE_STUB,
    )
    Case.objects.create(exercise=exercise, name="Ada", variables={"name": "Ada"})
    return exercise


@pytest.fixture
def world():
    alpha_teacher, beta_teacher = make_user("ia"), make_user("ib")
    alpha, beta = exercise_in("alpha", alpha_teacher), exercise_in("beta", beta_teacher)
    one, two, three = make_user("learner-one"), make_user("learner-two"), make_user("learner-three")
    alpha_cohort = Cohort.objects.create(course=alpha.lesson.course, name="Alpha 1")
    beta_cohort = Cohort.objects.create(course=beta.lesson.course, name="Beta 1")
    for cohort, learner in [(alpha_cohort, one), (alpha_cohort, two), (beta_cohort, two)]:
        Membership.objects.create(cohort=cohort, learner=learner)
    Membership.objects.create(cohort=beta_cohort, learner=three)
    # learner-three also tries Alpha's exercise without joining an Alpha cohort.
    for learner, exercise in [
        (one, alpha),
        (two, alpha),
        (two, beta),
        (three, beta),
        (three, alpha),
    ]:
        make_attempt(learner, exercise, user_prompt=f"Say hello to {{name}}, from {learner}.")
    run_queued()
    return {
        "alpha": alpha,
        "beta": beta,
        "alpha_cohort": alpha_cohort,
        "beta_cohort": beta_cohort,
        "ia": alpha_teacher,
        "ib": beta_teacher,
        "learners": (one, two, three),
    }


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def gradebook_learners(client: Client, cohort: Cohort) -> set[str]:
    html = client.get(f"/teach/cohorts/{cohort.pk}/").content.decode()
    return set(re.findall(r'<span class="gb-name">([^<]+)</span>', html))


def csv_rows(client: Client, url: str) -> list[dict]:
    response = client.get(url)
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def queue_learners(client: Client) -> set[tuple[str, str]]:
    html = client.get("/teach/review/").content.decode()
    return set(re.findall(r"<h2>([\w-]+) · ([\w ]+)</h2>", html))


def test_each_instructor_sees_exactly_their_cohorts_members(world):
    ia, ib = logged_in(world["ia"]), logged_in(world["ib"])
    assert gradebook_learners(ia, world["alpha_cohort"]) == {"learner-one", "learner-two"}
    assert gradebook_learners(ib, world["beta_cohort"]) == {"learner-two", "learner-three"}
    assert ia.get(f"/teach/cohorts/{world['beta_cohort'].pk}/").status_code == 404
    assert ib.get(f"/teach/cohorts/{world['alpha_cohort'].pk}/").status_code == 404


def test_the_csvs_hold_exactly_the_cohorts_rows(world):
    ia = logged_in(world["ia"])
    cohort = world["alpha_cohort"].pk
    gradebook = csv_rows(ia, f"/teach/cohorts/{cohort}/gradebook.csv")
    assert {row["username"] for row in gradebook} == {"learner-one", "learner-two"}
    attempts = csv_rows(ia, f"/teach/cohorts/{cohort}/attempts.csv")
    assert sorted(row["learner"] for row in attempts) == ["learner-one", "learner-two"]
    assert {row["exercise"] for row in attempts} == {"Alpha greeting"}
    ib = logged_in(world["ib"])
    for name in ("gradebook.csv", "attempts.csv"):
        assert ib.get(f"/teach/cohorts/{cohort}/{name}").status_code == 404


def test_statistics_count_the_cohorts_members_only(world):
    ia = logged_in(world["ia"])
    html = ia.get(
        f"/teach/cohorts/{world['alpha_cohort'].pk}/exercises/{world['alpha'].pk}/"
    ).content.decode()
    assert re.search(r'data-stat="tried">2<', html), "learner-three is not in Alpha 1"
    assert re.search(r'data-stat="attempts">2<', html)
    beta_stats = f"/teach/cohorts/{world['alpha_cohort'].pk}/exercises/{world['beta'].pk}/"
    assert ia.get(beta_stats).status_code == 404


def test_the_review_queue_holds_every_attempt_on_my_courses_exercises_and_no_other(world):
    assert queue_learners(logged_in(world["ia"])) == {
        ("learner-one", "Alpha greeting"),
        ("learner-two", "Alpha greeting"),
        ("learner-three", "Alpha greeting"),
    }
    assert queue_learners(logged_in(world["ib"])) == {
        ("learner-two", "Beta greeting"),
        ("learner-three", "Beta greeting"),
    }


def test_drill_downs_exist_only_for_members_of_my_cohorts(world):
    ia = logged_in(world["ia"])
    one, _, three = world["learners"]
    cohort, alpha = world["alpha_cohort"].pk, world["alpha"].pk
    assert (
        ia.get(f"/teach/cohorts/{cohort}/learners/{one.pk}/exercises/{alpha}/").status_code == 200
    )
    assert (
        ia.get(f"/teach/cohorts/{cohort}/learners/{three.pk}/exercises/{alpha}/").status_code == 404
    )
    beta = world["beta_cohort"].pk
    assert (
        ia.get(f"/teach/cohorts/{beta}/learners/{three.pk}/exercises/{alpha}/").status_code == 404
    )


def test_a_learner_sees_only_their_own_work(world):
    one, two, _ = world["learners"]
    client = logged_in(one)
    html = client.get(f"/progress/alpha/{world['alpha'].pk}/").content.decode()
    assert "from learner-one" in html and "from learner-two" not in html
    assert client.get("/teach/review/").status_code == 404
    assert client.get(f"/teach/cohorts/{world['alpha_cohort'].pk}/").status_code == 404


# The same world by ID: every list a page or CSV shows equals, as a set of primary keys, the
# rows its viewer may see by the rule that governs it.
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def linked_attempts(html: str) -> set[str]:
    return set(re.findall(rf"/attempts/({UUID})/", html))


def ids(queryset) -> set[str]:
    return {str(pk) for pk in queryset.values_list("pk", flat=True)}


def test_a_learners_attempt_lists_link_exactly_their_visible_attempts(world):
    for learner in world["learners"]:
        client = logged_in(learner)
        for exercise in (world["alpha"], world["beta"]):
            visible = ids(Attempt.objects.visible_to(learner).filter(exercise=exercise))
            page = client.get(exercise.get_absolute_url())
            shown = linked_attempts(page.content.decode()) if page.status_code == 200 else set()
            assert shown == visible, (learner.username, exercise.slug)


def test_the_attempts_csv_holds_exactly_the_cohort_members_attempt_ids(world):
    for teacher, cohort in (("ia", "alpha_cohort"), ("ib", "beta_cohort")):
        cohort = world[cohort]
        members = Membership.objects.filter(cohort=cohort).values("learner")
        expected = ids(
            Attempt.objects.by_learners().filter(
                learner__in=members, exercise__lesson__course=cohort.course
            )
        )
        rows = csv_rows(logged_in(world[teacher]), f"/teach/cohorts/{cohort.pk}/attempts.csv")
        assert {row["attempt"] for row in rows} == expected


def test_the_queue_and_drilldowns_show_exactly_the_ids_of_my_courses(world):
    for teacher in ("ia", "ib"):
        client = logged_in(world[teacher])
        html = client.get("/teach/review/").content.decode()
        mine = ReviewItem.objects.filter(
            resolved_at=None, attempt__exercise__lesson__course__instructors=world[teacher]
        )
        assert set(re.findall(r'data-item="(\d+)"', html)) == ids(mine)
        assert mine.exists()
    ia = logged_in(world["ia"])
    cohort, alpha = world["alpha_cohort"], world["alpha"]
    for learner in world["learners"][:2]:
        url = f"/teach/cohorts/{cohort.pk}/learners/{learner.pk}/exercises/{alpha.pk}/"
        shown = set(re.findall(rf"/teach/attempts/({UUID})/", ia.get(url).content.decode()))
        assert shown == ids(Attempt.objects.filter(learner=learner, exercise=alpha))


def test_the_gradebook_links_exactly_the_cohorts_learner_ids(world):
    for teacher, cohort in (("ia", "alpha_cohort"), ("ib", "beta_cohort")):
        cohort = world[cohort]
        html = logged_in(world[teacher]).get(f"/teach/cohorts/{cohort.pk}/").content.decode()
        shown = set(re.findall(rf"/teach/cohorts/{cohort.pk}/learners/(\d+)/", html))
        assert shown == {str(pk) for pk in cohort.memberships.values_list("learner", flat=True)}
