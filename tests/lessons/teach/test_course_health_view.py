"""GET and POST /teach/courses/<slug>/health/ (and its button on /teach/): the course's latest
exercise health check, its progress polled while it runs, and its report table."""

from __future__ import annotations

from datetime import timedelta
from unittest.mock import patch

import pytest
from django.test import Client
from django.utils import timezone

from lessons.authoring import health
from lessons.models import Course, HealthCheck
from tests.conftest import HTMX, STUB, make_exercise, make_user

pytestmark = pytest.mark.django_db

URL = "/teach/courses/basics/health/"


def health_course() -> Course:
    return Course.objects.get(slug="basics")


SOLUTION = {"user": "Say hello to {name}."}


def test_the_teach_page_has_the_button_for_each_course(ines_client):
    make_exercise(solution=SOLUTION)
    html = ines_client.get("/teach/").content.decode()
    assert f'action="{URL}" class="inline" data-check-exercises>' in html
    assert 'Check exercises<span class="sr-only"> of Basics</span>' in html


def test_only_the_course_instructors_see_or_start_it(client, instructor, other_instructor):
    make_exercise(solution=SOLUTION)
    for user in (other_instructor, make_user("alice")):
        client.force_login(user)
        with patch("lessons.authoring.views.health_task.delay") as delay:
            assert client.get(URL).status_code == 404
            assert client.post(URL).status_code == 404
        delay.assert_not_called()
    assert not HealthCheck.objects.exists()
    assert Client().get(URL).status_code == 302  # to the login page


def test_a_post_starts_a_check_in_the_worker_and_the_panel_polls_its_progress(
    ines_client, instructor, django_capture_on_commit_callbacks
):
    make_exercise(solution=SOLUTION)
    make_exercise(slug="second", solution=SOLUTION)
    with patch("lessons.authoring.views.health_task.delay") as delay:
        with django_capture_on_commit_callbacks(execute=True):
            r = ines_client.post(URL, headers=HTMX)
    job = HealthCheck.objects.get()
    delay.assert_called_once_with(job.pk)
    assert (job.status, job.requested_by, job.total) == (HealthCheck.QUEUED, instructor, 2)
    html = r.content.decode()
    assert f'hx-get="{URL}"' in html and 'hx-trigger="every 1s"' in html
    assert "0 of 2 exercises checked" in html
    lease = timezone.now() + timedelta(minutes=5)
    running = HealthCheck.objects.filter(pk=job.pk)
    running.update(status=HealthCheck.RUNNING, done=1, lease_expires_at=lease)
    r = ines_client.get(URL, headers=HTMX)
    assert r.status_code == 200 and "1 of 2 exercises checked…" in r.content.decode()
    # Its worker died: the page says so, and goes on polling until the reconciler takes it up.
    past = timezone.now() - timedelta(seconds=1)
    running.update(lease_expires_at=past)
    html = ines_client.get(URL, headers=HTMX).content.decode()
    assert "Paused after 1 of 2 exercises: its worker did not finish" in html
    assert 'hx-trigger="every 1s"' in html


def test_a_second_post_while_one_runs_is_refused(ines_client, instructor):
    make_exercise(solution=SOLUTION)
    health.create(health_course(), instructor)
    with patch("lessons.authoring.views.health_task.delay") as delay:
        r = ines_client.post(URL, headers=HTMX)
    assert r.status_code == 422 and "under way" in r.content.decode()
    delay.assert_not_called()


def test_the_finished_report_lists_exercise_check_expected_got_and_stops_polling(
    ines_client, instructor
):
    changed = {**STUB, "rules": [], "default": "No."}
    exercise = make_exercise(solution=SOLUTION, known_bad=[{"user": "Hi"}], stub=changed)
    health.check_course(health_course(), instructor)
    r = ines_client.get(URL, headers=HTMX)
    assert r.status_code == 286  # htmx: stop polling
    html = r.content.decode()
    assert "hx-trigger" not in html and "1 drifted" in html
    assert f'href="/teach/exercises/{exercise.pk}/">Greet someone</a>' in html
    drifted = html.split("data-drifted>")[1].split("</tr>")[0]
    assert "reference solution" in drifted and "<td>pass</td>" in drifted
    assert '<td>fail 50% <span class="badge fail">drifted</span></td>' in drifted
    # The known-bad prompt failing is what is expected: said so, not as a green "fail" badge.
    assert '<span class="badge pass">as expected</span>' in html
    assert '<span class="badge pass">fail' not in html
    detail = html.split("data-drift-detail>")[1].split("</tr>")[0]
    assert "expected &quot;hello&quot;" in detail
    page = ines_client.get(URL).content.decode()
    assert "<h1>Basics</h1>" in page and "data-health-report" in page
