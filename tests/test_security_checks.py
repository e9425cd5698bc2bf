"""Checks on the whole code base: production settings pass Django's deploy checks, and no
template or module marks HTML as safe except the one sanitizer."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from collections import defaultdict
from datetime import timedelta
from pathlib import Path
from unittest.mock import patch

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from lessons.models import Exercise, HealthCheck, JudgeCalibration, Regrade
from lessons.review.models import Cohort, Membership
from sandbox.models import Attempt, UsageRecord
from tests.conftest import (
    HTMX,
    JUDGED_RUBRIC,
    UNDECIDED_JUDGE_STUB,
    make_attempt,
    make_exercise,
    make_run,
    post_at_once,
)

ROOT = Path(__file__).resolve().parent.parent
SANITIZER = ROOT / "lessons" / "markdown.py"


def test_production_settings_pass_the_deploy_checks():
    env = {
        **os.environ,
        "DEBUG": "False",
        "SECRET_KEY": secrets.token_urlsafe(60),
        "ALLOWED_HOSTS": "sandbox.example.com",
        "CSRF_TRUSTED_ORIGINS": "https://sandbox.example.com",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_settings_trust_the_proxy_for_https_only():
    code = (
        "from django.conf import settings as s; "
        "print(s.SECURE_PROXY_SSL_HEADER, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE)"
    )
    env = {**os.environ, "DEBUG": "False", "SECRET_KEY": secrets.token_urlsafe(60)}
    env["DJANGO_SETTINGS_MODULE"] = "sandbox.settings"
    result = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.stdout.split() == ["('HTTP_X_FORWARDED_PROTO',", "'https')", "True", "True"]


def test_no_template_turns_off_escaping():
    unsafe = re.compile(r"\|\s*safe\b|autoescape\s+off|safeseq")
    offenders = [
        str(path.relative_to(ROOT))
        for path in ROOT.glob("*/templates/**/*.html")
        if unsafe.search(path.read_text())
    ]
    assert offenders == []


def test_only_the_sanitizer_marks_html_safe():
    unsafe = re.compile(r"\bmark_safe\(|__html__|SafeString\(")
    offenders = [
        str(path.relative_to(ROOT))
        for folder in ("sandbox", "lessons", "graders")
        for path in (ROOT / folder).rglob("*.py")
        if path != SANITIZER and unsafe.search(path.read_text())
    ]
    assert offenders == []


def test_pages_carry_the_security_headers(client):
    response = client.get("/accounts/login/")
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


# S11: a login over HTTPS under production settings, in a fresh interpreter (settings are read
# once, at import): the cookies it sets and the headers of the page.
COOKIES_AND_HEADERS = """
import json, django
django.setup()
from django.core.management import call_command
from django.contrib.auth.models import User
from django.test import Client
call_command("migrate", verbosity=0)
call_command("collectstatic", verbosity=0, interactive=False)
User.objects.create_user("probe", password="probe-password-1")
client = Client()
page = client.get("/accounts/login/", secure=True)
login = client.post(
    "/accounts/login/", {"username": "probe", "password": "probe-password-1"}, secure=True
)
def flags(morsel):
    return {"secure": bool(morsel["secure"]), "httponly": bool(morsel["httponly"]),
            "samesite": morsel["samesite"]}
print(json.dumps({
    "status": [page.status_code, login.status_code],
    "csrf": flags(page.cookies["csrftoken"]),
    "session": flags(login.cookies["sessionid"]),
    "headers": {k: page.headers.get(k) for k in (
        "Strict-Transport-Security", "X-Content-Type-Options", "X-Frame-Options",
        "Referrer-Policy", "Content-Security-Policy")},
}))
"""


def test_production_cookies_and_headers_carry_their_flags(tmp_path):
    env = {
        **os.environ,
        "DEBUG": "False",
        "SECRET_KEY": secrets.token_urlsafe(60),
        "ALLOWED_HOSTS": "testserver",
        "SANDBOX_DATA_DIR": str(tmp_path),
        "STATIC_ROOT": str(tmp_path / "static"),
        "DJANGO_SETTINGS_MODULE": "sandbox.settings",
    }
    env.pop("DATABASE_URL", None)
    result = subprocess.run(
        [sys.executable, "-c", COOKIES_AND_HEADERS],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.splitlines()[-1])
    assert seen["status"] == [200, 302]
    assert seen["session"] == {"secure": True, "httponly": True, "samesite": "Lax"}
    assert seen["csrf"]["secure"] is True
    headers = seen["headers"]
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "same-origin"
    assert "default-src" in headers["Content-Security-Policy"]


# Model calls a signed-in user may start, and the limits on them. Each URL that spends model
# tokens on someone's budget (name -> how to call it) counts against SUBMISSIONS_PER_MINUTE.
PER_MINUTE = {
    "sb-submit": "/exercises/{exercise}/submit/",
    "sb-playground": "/playground/",
    "ls-teach-try-rubric": "/teach/exercises/{exercise}/rubric/try/",
}
SPEND = {"user": "Please say hello.", "models": "stub:echo", "output": "Hello there!"}
SPEND |= {"temperature": "0", "max_tokens": "32"}


def judge_calls(user) -> int:
    return UsageRecord.objects.filter(learner=user).count()


@pytest.mark.parametrize("name", sorted(PER_MINUTE))
def test_model_calls_past_the_per_minute_limit_are_refused(
    name, ines_client, instructor, settings, delay
):
    settings.SUBMISSIONS_PER_MINUTE = 3
    exercise = make_exercise(rubric=JUDGED_RUBRIC, stub=UNDECIDED_JUDGE_STUB)
    assert exercise.status == Exercise.PUBLISHED
    url = PER_MINUTE[name].format(exercise=exercise.pk)
    for _ in range(3):
        assert ines_client.post(url, SPEND, headers=HTMX).status_code == 200, name
    started = Attempt.objects.count() + judge_calls(instructor)
    assert started >= 3, name
    refused = ines_client.post(url, SPEND, headers=HTMX)
    assert refused.status_code == 429, name
    assert "the most allowed" in refused.content.decode(), name
    assert Attempt.objects.count() + judge_calls(instructor) == started, name  # no call


@pytest.mark.parametrize("name", sorted(PER_MINUTE))
@pytest.mark.django_db(transaction=True)
def test_model_calls_at_once_cannot_pass_the_per_minute_limit_together(
    name, instructor, settings, delay
):
    # Five requests at once, limit three: the count and the call must not interleave.
    settings.SUBMISSIONS_PER_MINUTE = 3
    exercise = make_exercise(rubric=JUDGED_RUBRIC, stub=UNDECIDED_JUDGE_STUB)
    url = PER_MINUTE[name].format(exercise=exercise.pk)
    codes = post_at_once(instructor, url, SPEND, headers=HTMX)
    assert sorted(codes) == [200, 200, 200, 429, 429], name


# Every URL that starts model calls on someone's budget: over it, each says so and starts
# none (test_no_url_spends_past_the_budget walks the others too).
SPENDING = {
    "sb-submit",
    "sb-playground",
    "ls-teach-try-rubric",
    "ls-teach-publish",
    "ls-teach-regrade",
    "ls-teach-calibration",
    "ls-teach-health",
}
OVER_BUDGET = "tokens for today"


def every_route(patterns=None, prefix: str = ""):
    """Yield (name, route) for every pattern of the URLconf but the admin's and logging
    in or out (which would end the session the test uses)."""
    for p in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(p, URLResolver):
            if not str(p.pattern).startswith("admin/"):
                yield from every_route(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern) and p.name not in ("logout", "login"):
            yield p.name, "/" + prefix + str(p.pattern)


def test_no_url_spends_past_the_budget(instructor, learner, settings, delay):
    """Learner and instructor both over their daily tokens: every URL of the URLconf, posted
    to as a form and as htmx, starts no model call, now or queued; the spending ones say why."""
    settings.DAILY_TOKEN_BUDGET = 0
    exercise = make_exercise(
        rubric=JUDGED_RUBRIC,
        stub=UNDECIDED_JUDGE_STUB,
        solution={"user": "Say hello to {name}."},
    )
    cohort = Cohort.objects.create(course=exercise.lesson.course, name="Spring")
    Membership.objects.create(cohort=cohort, learner=learner)
    hour_ago = timezone.now() - timedelta(hours=1)
    graded = make_attempt(learner, exercise, status=Attempt.GRADED, score=0.5, passed=False)
    Attempt.objects.filter(pk=graded.pk).update(finished_at=hour_ago, started_at=hour_ago)
    make_run(graded, criteria=[])  # no stored verdict: a regrade asks the judge
    ids = {
        "course_slug": "basics",
        "lesson_slug": "first",
        "exercise_slug": exercise.slug,
        "lesson_id": exercise.lesson_id,
        "exercise_id": exercise.pk,
        "cohort_id": cohort.pk,
        "learner_id": learner.pk,
        "attempt_id": graded.pk,
        "code": cohort.join_code,
        "check_id": 0,
        "regrade_id": 0,
    }

    def no_backend(*args, **kwargs):
        raise AssertionError("a model call past the budget")

    said: dict[str, str] = {}
    with (
        patch("sandbox.calls.make_backend", no_backend),
        patch("lessons.tasks.regrade.delay") as regrade,
        patch("lessons.tasks.calibrate_judge.delay") as calibrate,
        patch("lessons.tasks.check_exercises.delay") as check,
    ):
        for user in (learner, instructor):
            client = Client()
            client.force_login(user)
            for name, route in every_route():
                url = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(ids[m.group(1)]), route)
                for headers in ({}, HTMX):
                    response = client.post(url, SPEND, headers=headers, follow=True)
                    if response.status_code < 500 and not response.streaming:
                        said[name] = said.get(name, "") + response.content.decode()
    assert Attempt.objects.count() == 1
    assert not Regrade.objects.exists() and not JudgeCalibration.objects.exists()
    assert not HealthCheck.objects.exists()
    for queued in (delay, regrade, calibrate, check):
        queued.assert_not_called()
    assert [name for name in sorted(SPENDING) if OVER_BUDGET not in said.get(name, "")] == []


def test_no_url_reads_a_body_past_the_cap_files_included(client, learner, settings, delay):
    """S7 for multipart bodies: DATA_UPLOAD_MAX_MEMORY_SIZE leaves out their files, which
    Django would read to the end (to a temporary file) whatever their size. Every URL, signed
    out and in, refuses a body past FILE_UPLOAD_MAX_MEMORY_SIZE before reading it (413, a
    page saying so). (Fields past DATA_UPLOAD_MAX_MEMORY_SIZE are Django's 400: S7.)"""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 20_000
    exercise = make_exercise()
    ids = defaultdict(int, {"exercise_id": exercise.pk, "exercise": exercise.pk})
    ids |= {"course_slug": "basics", "lesson_slug": "first", "exercise_slug": "greet"}
    for signed_in in (False, True):
        if signed_in:
            client.force_login(learner)
        for name, route in [*every_route(), ("login", "/accounts/login/")]:
            url = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(ids[m.group(1)]), route)
            big = SimpleUploadedFile("cases.csv", b"x" * 20_001, content_type="text/csv")
            response = client.post(url, {"user": "say hello", "csv_file": big})
            if not response.status_code == 404:  # an address resolving to no view reads nothing
                assert response.status_code == 413, (signed_in, name)
                assert "That was too large to send" in response.content.decode()
    assert Attempt.objects.count() == 0
    delay.assert_not_called()
