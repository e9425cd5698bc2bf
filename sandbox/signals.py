"""Signals the engine sends, so that apps above it can follow an attempt without the
runner knowing them."""

from django.dispatch import Signal

# Sent with attempt=<Attempt>, runs=[Run] and usage=[UsageRecord] (as saved) once an attempt is
# saved final (graded or error).
attempt_finished = Signal()
