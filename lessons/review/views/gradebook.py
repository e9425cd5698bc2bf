"""TODO: being written."""

from django.http import Http404


def gradebook(request, **kwargs):
    raise Http404("not built yet")
