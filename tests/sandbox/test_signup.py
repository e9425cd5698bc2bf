"""/accounts/signup/: create an account, log in, go to the courses (or back to the join link
that sent them)."""

from __future__ import annotations

from django.contrib.auth.models import User

from tests.conftest import make_user

URL = "/accounts/signup/"
GOOD = {"username": "carol", "password1": "a-long-new-pass-77", "password2": "a-long-new-pass-77"}


def test_it_shows_the_form(client, db):
    r = client.get(URL)
    html = r.content.decode()
    assert r.status_code == 200
    assert 'name="username"' in html
    assert 'name="password1"' in html
    assert 'name="password2"' in html


def test_it_lists_the_password_rules_one_per_line(client, db):
    html = client.get(URL).content.decode()
    help_text = html[html.index('id="id_password1_helptext"') :]
    help_text = help_text[: help_text.index("</div>")]
    assert help_text.count("<li>") >= 3
    assert "information.</li>" in help_text  # the first rule ends its own line
    assert 'aria-describedby="id_password1_helptext"' in html


def test_it_creates_the_account_logs_in_and_redirects_to_courses(client, db):
    r = client.post(URL, GOOD)
    assert r.status_code == 302
    assert r["Location"] == "/"
    user = User.objects.get(username="carol")
    assert client.session["_auth_user_id"] == str(user.pk)
    assert not user.is_staff
    assert client.get("/").status_code == 200


def test_it_shows_errors_when_the_passwords_differ(client, db):
    r = client.post(URL, {**GOOD, "password2": "something-else-88"})
    assert r.status_code == 200
    assert 'class="field-error"' in r.content.decode()
    assert not User.objects.filter(username="carol").exists()
    assert "_auth_user_id" not in client.session


def test_it_shows_errors_for_a_common_password(client, db):
    r = client.post(URL, {"username": "carol", "password1": "password", "password2": "password"})
    assert r.status_code == 200
    assert "too common" in r.content.decode()
    assert not User.objects.filter(username="carol").exists()


def test_it_shows_errors_for_a_taken_username(client, db):
    make_user("carol")
    r = client.post(URL, GOOD)
    assert r.status_code == 200
    assert "already exists" in r.content.decode()
    assert User.objects.filter(username="carol").count() == 1
    assert "_auth_user_id" not in client.session


def test_it_shows_errors_for_an_empty_form(client, db):
    r = client.post(URL, {"username": "", "password1": "", "password2": ""})
    assert r.status_code == 200
    assert r.content.decode().count('class="field-error"') == 3
    assert User.objects.count() == 0


def test_it_shows_errors_for_a_post_with_no_fields(client, db):
    # An empty QueryDict is falsy: `request.POST or None` would leave the form unbound.
    r = client.post(URL, {})
    assert r.status_code == 200
    assert "This field is required." in r.content.decode()
    assert User.objects.count() == 0


def test_it_escapes_the_username_it_echoes_back(client, db):
    r = client.post(URL, {**GOOD, "username": "<script>alert(1)</script>"})
    assert r.status_code == 200
    assert "<script>alert(1)" not in r.content.decode()
    assert User.objects.count() == 0


def test_a_join_link_survives_signing_up(client, db):
    # Someone new opens a join link: the login page sends them to sign up, and signing up
    # brings them back to the link rather than to the course list.
    login = client.get("/accounts/login/?next=/join/ABCD2345/").content.decode()
    assert 'href="/accounts/signup/?next=/join/ABCD2345/"' in login
    form = client.get(f"{URL}?next=/join/ABCD2345/").content.decode()
    assert '<input type="hidden" name="next" value="/join/ABCD2345/">' in form
    assert 'href="/accounts/login/?next=/join/ABCD2345/"' in form
    again = client.post(f"{URL}?next=/x/%3Fa%3D1%26b%3D2", {"username": ""}).content.decode()
    assert 'name="next" value="/x/?a=1&amp;b=2"' in again
    assert 'href="/accounts/login/?next=/x/%3Fa%3D1%26b%3D2"' in again
    r = client.post(URL, {**GOOD, "next": "/join/ABCD2345/"})
    assert r.status_code == 302 and r["Location"] == "/join/ABCD2345/"


def test_signing_up_never_sends_people_to_another_site(client, db):
    r = client.post(URL, {**GOOD, "next": "https://evil.example/"})
    assert r.status_code == 302 and r["Location"] == "/"
