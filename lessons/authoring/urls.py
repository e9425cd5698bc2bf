from __future__ import annotations

from django.urls import include, path

from lessons.authoring import views
from lessons.review.urls import teach_urls as review_urls

# Under /teach/courses/<course_slug>/
course_urls = [
    path("", views.edit_course, name="ls-teach-course"),
    path("archive/", views.archive_course, name="ls-teach-archive-course"),
    path("publish/", views.publish_course, name="ls-teach-publish-course"),
    path("preview/", views.preview_markdown, name="ls-teach-preview"),
    path("health/", views.course_health, name="ls-teach-health"),
    path("lessons/new/", views.create_lesson, name="ls-teach-create-lesson"),
    path("lessons/<int:lesson_id>/", views.edit_lesson, name="ls-teach-lesson"),
    path("lessons/<int:lesson_id>/move/", views.move_lesson, name="ls-teach-move-lesson"),
    path("lessons/<int:lesson_id>/archive/", views.archive_lesson, name="ls-teach-archive-lesson"),
    path("lessons/<int:lesson_id>/publish/", views.publish_lesson, name="ls-teach-publish-lesson"),
    path(
        "lessons/<int:lesson_id>/exercises/new/",
        views.create_exercise,
        name="ls-teach-create-exercise",
    ),
]

# Under /teach/exercises/<exercise_id>/
exercise_urls = [
    path("", views.edit_exercise, name="ls-teach-exercise"),
    path("move/", views.move_exercise, name="ls-teach-move-exercise"),
    path("archive/", views.archive_exercise, name="ls-teach-archive-exercise"),
    path("cases/", views.edit_cases, name="ls-teach-cases"),
    path("cases/import/", views.import_cases, name="ls-teach-import-cases"),
    path("rubric/", views.edit_rubric, name="ls-teach-rubric"),
    path("rubric/yaml/", views.edit_rubric_yaml, name="ls-teach-rubric-yaml"),
    path("rubric/try/", views.try_rubric, name="ls-teach-try-rubric"),
    path("publish/", views.publish_exercise, name="ls-teach-publish"),
    path("publish/<int:check_id>/", views.publish_status, name="ls-teach-publish-status"),
    path("unpublish/", views.unpublish_exercise, name="ls-teach-unpublish"),
    path("regrade/", views.regrade_exercise, name="ls-teach-regrade"),
    path("regrade/<int:regrade_id>/", views.regrade_status, name="ls-teach-regrade-status"),
    path("calibration/", views.calibrate_judge, name="ls-teach-calibration"),
]

# Under /teach/
urlpatterns = [
    path("", views.teach_home, name="ls-teach"),
    path("courses/new/", views.create_course, name="ls-teach-create-course"),
    path("courses/<slug:course_slug>/", include(course_urls)),
    path("exercises/<int:exercise_id>/", include(exercise_urls)),
    *review_urls,
]
