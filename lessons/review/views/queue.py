"""TODO: being written."""

from django.http import Http404


def review_queue(request, **kwargs):
    raise Http404("not built yet")
