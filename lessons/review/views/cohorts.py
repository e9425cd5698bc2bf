"""TODO: being written."""

from django.http import Http404


def create_cohort(request, **kwargs):
    raise Http404("not built yet")


def edit_cohort(request, **kwargs):
    raise Http404("not built yet")


def join(request, **kwargs):
    raise Http404("not built yet")


def join_with_code(request, **kwargs):
    raise Http404("not built yet")
