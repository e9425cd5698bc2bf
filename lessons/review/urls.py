"""The review URLs: instructors' under /teach/ (names ls-teach-…, so the /teach/ access
matrix covers them), learners' under /."""

from __future__ import annotations

from django.urls import include, path

from lessons.review.views import cohorts, drilldown, exports, gradebook, progress, queue, statistics

# Under /teach/cohorts/<cohort_id>/
cohort_urls = [
    path("", gradebook.gradebook, name="ls-teach-gradebook"),
    path("settings/", cohorts.edit_cohort, name="ls-teach-cohort"),
    path("gradebook.csv", exports.gradebook_csv, name="ls-teach-gradebook-csv"),
    path("attempts.csv", exports.attempts_csv, name="ls-teach-attempts-csv"),
    path("exercises/<int:exercise_id>/", statistics.exercise_stats, name="ls-teach-exercise-stats"),
    path(
        "learners/<int:learner_id>/exercises/<int:exercise_id>/",
        drilldown.drilldown,
        name="ls-teach-drilldown",
    ),
]

# Under /teach/
teach_urls = [
    path(
        "courses/<slug:course_slug>/cohorts/new/",
        cohorts.create_cohort,
        name="ls-teach-create-cohort",
    ),
    path("cohorts/<int:cohort_id>/", include(cohort_urls)),
    path("review/", queue.review_queue, name="ls-teach-review-queue"),
    path("attempts/<uuid:attempt_id>/decide/", drilldown.decide, name="ls-teach-decide"),
    path("attempts/<uuid:attempt_id>/override/", drilldown.override, name="ls-teach-override"),
]

# Under /
learner_urls = [
    path("join/", cohorts.join, name="ls-join"),
    path("join/<str:code>/", cohorts.join_with_code, name="ls-join-code"),
    path("progress/<slug:course_slug>/", progress.course_progress, name="ls-progress"),
    path(
        "progress/<slug:course_slug>/<int:exercise_id>/",
        progress.exercise_progress,
        name="ls-progress-exercise",
    ),
]
