"""Authoring: what instructors do to their courses.

- views, urls, forms: the pages under /teach/ (courses, lessons, exercises, cases, rubric).
- editing: the plain functions behind them (YAML fields, CSV test cases, the judge on an
  instructor's ledger, ordering).
- coursefiles: courses as files (import_course, export_course).
- publishing: the reference check that publishes an exercise and rechecks it after edits.
- regrading: an exercise's attempts graded again from their stored outputs.
"""
