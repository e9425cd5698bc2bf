from __future__ import annotations

from django.apps import AppConfig


class LessonsConfig(AppConfig):
    name = "lessons"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Decide a publish check when the worker saves its reference attempt final, and
        bring a learner's progress up to date when it saves theirs."""
        from lessons.authoring.publishing import finish_check_of
        from lessons.review.progress import refresh_after
        from sandbox.models import Attempt
        from sandbox.signals import attempt_finished

        attempt_finished.connect(finish_check_of, sender=Attempt, dispatch_uid="publish-check")
        attempt_finished.connect(refresh_after, sender=Attempt, dispatch_uid="review-progress")
