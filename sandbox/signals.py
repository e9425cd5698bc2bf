"""Signals the engine sends, so apps above it follow an attempt without the runner knowing them."""

from django.dispatch import Signal

# Sent with attempt=<Attempt>, runs=[Run] and usage=[UsageRecord] (as saved) once an attempt is
# saved final (graded or error).
attempt_finished = Signal()
# Sent with the same arguments in the transaction that saves an attempt final, before it
# commits: what a receiver writes (a learner's progress) commits with the attempt or not at
# all. A receiver that raises is rolled back to a savepoint and logged; the attempt is saved.
attempt_saved = Signal()
