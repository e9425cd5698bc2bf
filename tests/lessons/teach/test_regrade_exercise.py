"""POST /teach/exercises/<id>/regrade/ and GET …/regrade/<id>/: a background regrade from
stored outputs, whose progress the rubric page polls."""

from __future__ import annotations

from unittest.mock import patch

from lessons.models import Regrade
from sandbox.models import Attempt
from tests.conftest import HTMX, make_attempt, make_exercise, run_queued


def no_backend(*args, **kwargs):
    raise AssertionError("a regrade must not call a model")


def test_it_queues_a_regrade_after_commit(
    ines_client, instructor, django_capture_on_commit_callbacks
):
    exercise = make_exercise()
    with patch("lessons.authoring.views.regrade_task.delay") as delay:
        with django_capture_on_commit_callbacks(execute=True):
            r = ines_client.post(f"/teach/exercises/{exercise.id}/regrade/", headers=HTMX)
    regrade = Regrade.objects.get()
    delay.assert_called_once_with(regrade.pk)
    assert regrade.requested_by == instructor and regrade.status == Regrade.QUEUED
    html = r.content.decode()
    assert f'hx-get="/teach/exercises/{exercise.id}/regrade/{regrade.pk}/"' in html
    assert 'hx-trigger="every 500ms"' in html


def test_it_reports_progress_and_stops_polling_when_done(
    ines_client, learner, django_capture_on_commit_callbacks
):
    exercise = make_exercise()
    for _ in range(2):
        make_attempt(learner, exercise)
        run_queued()
    exercise.rubric = {"criteria": [{"id": "bye", "kind": "contains", "params": {"text": "bye"}}]}
    exercise.save()
    regrade = Regrade.objects.create(exercise=exercise, status=Regrade.RUNNING, total=2, done=1)
    url = f"/teach/exercises/{exercise.id}/regrade/{regrade.pk}/"
    r = ines_client.get(url, headers=HTMX)
    assert "Regraded 1 of 2" in r.content.decode() and r.status_code == 200

    Regrade.objects.filter(pk=regrade.pk).update(status=Regrade.QUEUED, done=0)
    # The worker: the task calls the plain function; no model may be called.
    from lessons.tasks import regrade as task

    with (
        patch("sandbox.calls.make_backend", no_backend),
        patch("sandbox.runs.make_backend", no_backend),
    ):
        task.run(regrade.pk)
    r = ines_client.get(url, headers=HTMX)
    assert r.status_code == 286  # htmx: stop polling
    assert "2 attempts regraded, 2 changed" in r.content.decode()
    assert set(Attempt.objects.values_list("passed", flat=True)) == {False}


def test_a_second_regrade_posted_without_htmx_is_refused_on_the_rubric_page(ines_client):
    # The form posts with htmx; without it (no JavaScript) the refusal is the whole page.
    exercise = make_exercise()
    url = f"/teach/exercises/{exercise.id}/regrade/"
    with patch("lessons.authoring.views.regrade_task.delay"):
        assert ines_client.post(url).status_code == 302
        r = ines_client.post(url)
    assert r.status_code == 200
    assert "Not regraded: A regrade of this exercise is under way." in r.content.decode()
    assert Regrade.objects.count() == 1


def test_head_on_the_regrade_page_starts_none(ines_client, learner):
    # HEAD is a GET without the body: it says what a regrade would take, and starts nothing.
    exercise = make_exercise()
    make_attempt(learner, exercise, status=Attempt.GRADED, score=0.5, passed=False)
    with patch("lessons.authoring.views.regrade_task.delay") as delay:
        r = ines_client.head(f"/teach/exercises/{exercise.id}/regrade/")
    assert r.status_code == 200
    assert not Regrade.objects.exists()
    delay.assert_not_called()
