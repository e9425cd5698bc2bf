"""TODO: being written."""

from django.http import Http404


def drilldown(request, **kwargs):
    raise Http404("not built yet")


def decide(request, **kwargs):
    raise Http404("not built yet")


def override(request, **kwargs):
    raise Http404("not built yet")
