"""manage.py create_demo_accounts: the embedded default's learner and instructor."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command


def create_demo_accounts() -> dict[str, str]:
    """Run the command and return the printed {username: password}."""
    out = StringIO()
    call_command("create_demo_accounts", stdout=out)
    return dict(re.findall(r"^\s*(\S+)\s+password: (\S+)$", out.getvalue(), re.MULTILINE))


def test_it_creates_a_learner_and_an_instructor_whose_passwords_log_in(client, db, settings):
    settings.DEBUG = True
    passwords = create_demo_accounts()
    assert set(passwords) == {"learner", "instructor"}
    assert not User.objects.get(username="learner").is_staff
    assert User.objects.get(username="instructor").is_staff
    for username, password in passwords.items():
        assert User.objects.get(username=username).check_password(password), username


def test_it_resets_the_passwords_when_run_again(client, db, settings):
    settings.DEBUG = True
    first = create_demo_accounts()
    second = create_demo_accounts()
    assert User.objects.count() == 2
    assert first["learner"] != second["learner"]
    learner = User.objects.get(username="learner")
    assert not learner.check_password(first["learner"])
    assert learner.check_password(second["learner"])


def test_it_is_refused_with_debug_off(db, settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG=True"):
        call_command("create_demo_accounts", stdout=StringIO())
    assert User.objects.count() == 0
