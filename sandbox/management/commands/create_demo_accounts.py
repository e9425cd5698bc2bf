"""Create the demo accounts of the embedded default. Refused under production settings."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError

from lessons.models import Course

DEMO_ACCOUNTS = {"learner": False, "instructor": True}


class Command(BaseCommand):
    help = "Create (or reset) the demo accounts learner and instructor, and print their passwords."

    def handle(self, **options) -> None:
        if not settings.DEBUG:
            raise CommandError("Demo accounts exist only in the embedded default (DEBUG=True).")
        for username, is_staff in DEMO_ACCOUNTS.items():
            password = f"{username}-{secrets.token_hex(3)}"
            user, _ = User.objects.get_or_create(username=username)
            user.is_staff = is_staff
            user.set_password(password)
            user.save()
            if is_staff:
                # The demo instructor teaches every course, so authoring can be tried at once.
                user.taught_courses.add(*Course.objects.all())
            self.stdout.write(f"  {username:<11} password: {password}")
