"""/accounts/login/ and /accounts/logout/ (POST only)."""

from __future__ import annotations

from tests.conftest import PASSWORD


def test_it_shows_the_form(client, db):
    r = client.get("/accounts/login/")
    html = r.content.decode()
    assert r.status_code == 200
    assert 'name="username"' in html
    assert 'name="password"' in html


def test_it_logs_in_and_redirects_to_courses(client, learner):
    r = client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    assert r.status_code == 302
    assert r["Location"] == "/"
    assert client.session["_auth_user_id"] == str(learner.pk)


def test_it_redirects_to_next(client, learner):
    r = client.post(
        "/accounts/login/", {"username": "alice", "password": PASSWORD, "next": "/courses/basics/"}
    )
    assert r.status_code == 302
    assert r["Location"] == "/courses/basics/"


def test_it_does_not_redirect_to_another_site(client, learner):
    r = client.post(
        "/accounts/login/",
        {"username": "alice", "password": PASSWORD, "next": "https://evil.example/"},
    )
    assert r.status_code == 302
    assert r["Location"] == "/"


def test_it_rejects_a_wrong_password(client, learner):
    r = client.post("/accounts/login/", {"username": "alice", "password": "wrong"})
    assert r.status_code == 200
    assert "correct username and password" in r.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_username_longer_than_a_user_has_is_a_form_error_not_a_500(client, learner):
    # django-axes kept the failed username in a 255-character column.
    r = client.post("/accounts/login/", {"username": "u" * 300, "password": "x"})
    assert r.status_code == 200
    assert "Ensure this value has at most 150 characters (it has 300)." in r.content.decode()


def test_a_wrong_login_as_long_as_a_username_may_be_is_still_counted(client, learner):
    from axes.models import AccessAttempt

    r = client.post("/accounts/login/", {"username": "u" * 150, "password": "x"})
    assert r.status_code == 200
    assert AccessAttempt.objects.get().username == "u" * 150


def test_it_logs_out_with_post(alice_client):
    r = alice_client.post("/accounts/logout/")
    assert r.status_code == 302
    assert r["Location"] == "/accounts/login/"
    assert "_auth_user_id" not in alice_client.session
    assert b"Sign up" in alice_client.get("/").content  # the signed-out landing page


def test_it_does_not_log_out_with_get(alice_client, learner):
    r = alice_client.get("/accounts/logout/")
    assert r.status_code == 405
    assert alice_client.session["_auth_user_id"] == str(learner.pk)


def test_the_logout_button_is_a_form_with_a_csrf_token(alice_client, db):
    html = alice_client.get("/").content.decode()
    assert '<form method="post" action="/accounts/logout/"' in html
    assert 'name="csrfmiddlewaretoken"' in html
