from __future__ import annotations

from django.apps import AppConfig
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from graders import limits


class LessonsConfig(AppConfig):
    name = "lessons"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Hand the graders their caps (settings.GRADER_CAPS). Decide a publish check when the
        worker saves its reference attempt final, and bring a learner's progress up to date
        when it saves theirs."""
        from lessons.authoring.publishing import finish_check_of
        from lessons.review.progress import refresh_after
        from sandbox.models import Attempt
        from sandbox.signals import attempt_finished, attempt_saved

        try:
            limits.configure(**settings.GRADER_CAPS)
        except ValueError as e:
            raise ImproperlyConfigured(f"GRADER_{e}") from None

        attempt_finished.connect(finish_check_of, sender=Attempt, dispatch_uid="publish-check")
        attempt_saved.connect(refresh_after, sender=Attempt, dispatch_uid="review-progress")
