from __future__ import annotations

from django.apps import AppConfig


class LessonsConfig(AppConfig):
    name = "lessons"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Decide a publish check when the worker saves its reference attempt final."""
        from lessons.publishing import finish_check_of
        from sandbox.models import Attempt
        from sandbox.signals import attempt_finished

        attempt_finished.connect(finish_check_of, sender=Attempt, dispatch_uid="publish-check")
