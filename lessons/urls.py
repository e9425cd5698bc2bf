from __future__ import annotations

from django.urls import path

from lessons import views
from lessons.review.urls import learner_urls as review_urls

# Under /
urlpatterns = [
    path("", views.course_list, name="ls-courses"),
    path("courses/<slug:course_slug>/", views.course_detail, name="ls-course"),
    path("courses/<slug:course_slug>/<slug:lesson_slug>/", views.lesson_detail, name="ls-lesson"),
    path(
        "courses/<slug:course_slug>/<slug:lesson_slug>/<slug:exercise_slug>/",
        views.exercise_detail,
        name="ls-exercise",
    ),
    *review_urls,
]
