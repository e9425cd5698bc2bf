"""lessons.authoring.health: the exercise health job run through its real path (claimed with a
lease, each check a reference attempt on the pipeline), handed over, taken up by the
reconciler after its worker died, and stopped by the instructor's budget."""

from __future__ import annotations

from datetime import timedelta
from itertools import count
from types import SimpleNamespace
from unittest.mock import Mock, patch

import pytest
from django.utils import timezone
from kombu.exceptions import OperationalError

from lessons import tasks
from lessons.authoring import health
from lessons.models import Course, HealthCheck
from sandbox.models import Attempt
from tests.conftest import make_exercise

pytestmark = pytest.mark.django_db

SOLUTION = {"user": "Say hello to {name}."}
BAD = {"user": "Talk to {name}."}


@pytest.fixture
def course(instructor) -> Course:
    make_exercise(solution=SOLUTION, known_bad=[BAD])
    make_exercise(slug="second", solution=SOLUTION)
    return Course.objects.get(slug="basics")


def results(job: HealthCheck) -> list[tuple[str, str, str, str]]:
    return [(r["exercise"], r["check"], r["expected"], r["got"]) for r in job.rows]


EVERY_CHECK = [
    ("first/greet", "reference solution", "pass", "pass"),
    ("first/greet", "known-bad prompt 1", "fail", "fail"),
    ("first/second", "reference solution", "pass", "pass"),
]


def test_the_worker_task_runs_every_check_of_a_started_job(
    course, instructor, django_capture_on_commit_callbacks
):
    published: list[int] = []
    with django_capture_on_commit_callbacks(execute=True):
        job = health.start(course, instructor, publish=published.append)
    assert published == [job.pk] and job.total == 2
    tasks.check_exercises(job.pk)
    job.refresh_from_db()
    assert (job.status, job.done, job.drifted, job.deliveries) == (HealthCheck.DONE, 2, 0, 1)
    assert results(job) == EVERY_CHECK
    assert Attempt.objects.filter(is_reference=True, learner=instructor).count() == 3


def test_a_delivery_past_half_its_time_hands_the_rest_over(
    course, instructor, monkeypatch, django_capture_on_commit_callbacks
):
    # Each look at the clock finds it 1,000 seconds later: every check takes too long.
    monkeypatch.setattr(health, "time", SimpleNamespace(monotonic=count(0, 1000).__next__))
    job = health.create(course, instructor)
    handed: list[int] = []
    with django_capture_on_commit_callbacks(execute=True):
        health.run(job.pk, publish=handed.append)
    job.refresh_from_db()
    assert handed == [job.pk] and job.status == HealthCheck.QUEUED
    assert (len(job.rows), job.done) == (1, 0)
    while handed:
        with django_capture_on_commit_callbacks(execute=True):
            health.run(handed.pop(), publish=handed.append)
    job.refresh_from_db()
    assert job.status == HealthCheck.DONE and results(job) == EVERY_CHECK


def test_a_dead_workers_job_is_taken_up_by_the_reconciler_where_it_stopped(course, instructor):
    job = health.create(course, instructor)
    health.run(job.pk, publish=lambda pk: None)
    done = HealthCheck.objects.get(pk=job.pk)
    # A second job whose worker died after its first check: running, its lease past.
    dead = health.create(course, instructor)
    HealthCheck.objects.filter(pk=dead.pk).update(
        status=HealthCheck.RUNNING,
        started_at=timezone.now() - timedelta(hours=1),
        lease_expires_at=timezone.now() - timedelta(minutes=1),
        deliveries=1,
        rows=done.rows[:1],
    )
    assert health.running(course) is None  # it blocks nobody meanwhile
    published: list[int] = []
    assert health.reconcile(published.append) == 1
    assert published == [dead.pk]
    before = Attempt.objects.count()
    health.run(dead.pk, publish=published.append)
    dead.refresh_from_db()
    assert (dead.status, dead.deliveries) == (HealthCheck.DONE, 2)
    assert results(dead) == EVERY_CHECK
    assert Attempt.objects.count() == before + 2  # the reference of greet is not run again


def test_a_new_check_replaces_one_whose_worker_died(course, instructor):
    # Paused, it blocks nobody; started again meanwhile, both would replay every exercise.
    stalled = health.create(course, instructor)
    HealthCheck.objects.filter(pk=stalled.pk).update(
        status=HealthCheck.RUNNING, lease_expires_at=timezone.now() - timedelta(minutes=1)
    )
    new = health.start(course, instructor, publish=Mock())
    stalled.refresh_from_db()
    assert stalled.status == HealthCheck.ERROR
    assert stalled.error == (
        "Its worker stopped before it finished, and the health check started after it replaced it."
    )
    assert health.reconcile(Mock()) == 0
    assert health.running(course) == new


def test_over_the_budget_it_stops_saying_how_far_it_got(course, instructor, settings):
    settings.DAILY_TOKEN_BUDGET = 0
    job = health.create(course, instructor)
    health.run(job.pk, publish=lambda pk: None)
    job.refresh_from_db()
    assert job.status == HealthCheck.ERROR
    assert job.error.startswith("0 of 2 exercises checked, then: You have used your 0 tokens")
    assert health.refusal(course, instructor).startswith("You have used your 0 tokens")


def test_an_exercise_that_cannot_run_is_an_error_row(instructor):
    make_exercise(solution=SOLUTION, backend="openai", model_name="gpt-4o-mini", stub={})
    job = health.check_course(Course.objects.get(slug="basics"), instructor)
    assert job.status == HealthCheck.DONE and job.drifted == 1
    assert job.rows[0]["got"] == "error" and job.rows[0]["detail"]


def test_two_instructors_starting_it_at_once_start_one(course, instructor):
    """Both clicks passed the page's check before either saved: the second start gets the
    check under way (the course's row is locked while it looks)."""
    first = health.start(course, instructor, publish=Mock())
    assert health.start(course, instructor, publish=Mock()) == first
    assert HealthCheck.objects.count() == 1


@pytest.mark.django_db(transaction=True)  # the attempt's foreign key is checked at commit
def test_a_health_check_whose_instructor_is_deleted_mid_way_stops_saying_why(
    course, instructor, monkeypatch
):
    job = health.create(course, instructor)
    real = health.replay

    def replay_then_delete(*args):
        row = real(*args)
        instructor.delete()  # while the first check ran
        return row

    monkeypatch.setattr(health, "replay", replay_then_delete)
    health.run(job.pk, publish=Mock())
    job.refresh_from_db()
    assert job.status == HealthCheck.ERROR
    assert job.error == "0 of 2 exercises checked, then: its instructor was deleted."


def test_a_click_while_redis_is_down_saves_the_check_for_the_reconciler(
    ines_client, course, settings, django_capture_on_commit_callbacks
):
    down = OperationalError("Redis is down")
    with (
        patch.object(tasks.check_exercises, "apply_async", side_effect=down),
        django_capture_on_commit_callbacks(execute=True),
    ):
        r = ines_client.post("/teach/courses/basics/health/")
    assert r.status_code == 302  # not a server error: it is saved, and will run
    job = HealthCheck.objects.get()
    assert job.status == HealthCheck.QUEUED
    settings.RECONCILE_QUEUED_AFTER = 0
    published = Mock()
    assert health.reconcile(publish=published) == 1
    published.assert_called_once_with(job.pk)
