"""A cohort's CSV exports, streamed: the gradebook and all its learners' attempts."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import StreamingHttpResponse
from django.utils import timezone
from django.views.decorators.http import require_safe

from lessons.review import access, exports
from lessons.review.models import Cohort
from sandbox.views import LearnerRequest


def _csv(rows: Iterable[Sequence[Any]], cohort: Cohort, kind: str) -> StreamingHttpResponse:
    name = exports.filename(cohort, kind, timezone.localdate())
    return StreamingHttpResponse(
        exports.lines(rows),
        content_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "private, no-store",
        },
    )


@login_required
@require_safe
def gradebook_csv(request: LearnerRequest, cohort_id: int) -> StreamingHttpResponse:
    cohort = access.cohort_for_instructor(request.user, cohort_id)
    return _csv(exports.gradebook_rows(cohort), cohort, "gradebook")


@login_required
@require_safe
def attempts_csv(request: LearnerRequest, cohort_id: int) -> StreamingHttpResponse:
    cohort = access.cohort_for_instructor(request.user, cohort_id)
    return _csv(exports.attempt_rows(cohort), cohort, "attempts")
