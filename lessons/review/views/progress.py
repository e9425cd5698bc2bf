"""TODO: being written."""

from django.http import Http404


def course_progress(request, **kwargs):
    raise Http404("not built yet")


def exercise_progress(request, **kwargs):
    raise Http404("not built yet")
