"""Review: what instructors see of their learners, and what learners see of their own work.

- models: cohorts and their members and deadlines, each learner's progress per exercise, the
  needs-review queue, instructors' decisions (labels of outputs), score overrides, the audit.
- progress: the per-learner, per-exercise summary every review page reads, rebuilt from the
  attempts whenever they change (one pure function, `summarize`).
- decisions: an instructor's decision on a criterion, or override of a score, applied through
  the one scoring path and written to the audit trail.
- gradebook, statistics, drilldown, exports: what the pages compute; views/ serves them.
"""
