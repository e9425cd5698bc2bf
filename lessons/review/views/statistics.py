"""TODO: being written."""

from django.http import Http404


def exercise_stats(request, **kwargs):
    raise Http404("not built yet")
