"""Checks on the whole code base: production settings pass Django's deploy checks, and no
template or module marks HTML as safe except the one sanitizer."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

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
    from sandbox.models import UsageRecord

    return UsageRecord.objects.filter(learner=user).count()


@pytest.mark.parametrize("name", sorted(PER_MINUTE))
def test_model_calls_past_the_per_minute_limit_are_refused(
    name, ines_client, instructor, settings, delay
):
    from lessons.models import Exercise
    from sandbox.models import Attempt
    from tests.conftest import HTMX, JUDGED_RUBRIC, UNDECIDED_JUDGE_STUB, make_exercise

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
    import threading

    from django.db import connection
    from django.test import Client

    from tests.conftest import HTMX, JUDGED_RUBRIC, UNDECIDED_JUDGE_STUB, make_exercise

    settings.SUBMISSIONS_PER_MINUTE = 3
    exercise = make_exercise(rubric=JUDGED_RUBRIC, stub=UNDECIDED_JUDGE_STUB)
    url = PER_MINUTE[name].format(exercise=exercise.pk)
    barrier = threading.Barrier(5, timeout=10)
    codes: list[int] = []

    def post() -> None:
        client = Client()
        client.force_login(instructor)
        barrier.wait()
        try:
            codes.append(client.post(url, SPEND, headers=HTMX).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(codes) == [200, 200, 200, 429, 429], name
