"""TODO: being written."""

from django.http import Http404


def gradebook_csv(request, **kwargs):
    raise Http404("not built yet")


def attempts_csv(request, **kwargs):
    raise Http404("not built yet")
