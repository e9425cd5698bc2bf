"""Brute force (ACCEPTANCE S9): a username is locked after repeated wrong passwords."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.conftest import PASSWORD, make_user


def attempt(password: str, username: str = "alice", address: str = "10.0.0.1"):
    return Client(REMOTE_ADDR=address, HTTP_X_FORWARDED_FOR=address).post(
        "/accounts/login/", {"username": username, "password": password}
    )


@pytest.fixture
def alice(db, settings):
    settings.AXES_FAILURE_LIMIT = 5
    return make_user("alice")


def logged_in(response) -> bool:
    return response.status_code == 302 and response.url == "/"


def test_five_wrong_passwords_from_rotating_addresses_lock_the_username(alice):
    for i in range(4):
        assert attempt("wrong", address=f"10.0.0.{i + 1}").status_code == 200
    assert attempt("wrong", address="10.0.0.5").status_code == 429  # the fifth locks
    locked = attempt(PASSWORD, address="10.0.0.99")
    assert not logged_in(locked)
    assert locked.status_code == 429
    assert "Too many wrong passwords" in locked.content.decode()


def test_fewer_wrong_passwords_do_not_lock(alice):
    for _ in range(4):
        attempt("wrong")
    assert logged_in(attempt(PASSWORD))


def test_other_users_are_unaffected(alice):
    make_user("bob")
    for _ in range(6):
        attempt("wrong")
    assert logged_in(attempt(PASSWORD, username="bob"))


def test_the_lock_lifts_after_the_cool_off(alice, settings):
    for _ in range(5):
        attempt("wrong")
    assert not logged_in(attempt(PASSWORD))
    from axes.models import AccessAttempt

    AccessAttempt.objects.update(attempt_time="2000-01-01T00:00:00Z")
    assert logged_in(attempt(PASSWORD))
