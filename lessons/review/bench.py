"""`python -m lessons.review.bench` (or `make bench-review LEARNERS=500`): the server time of
the review pages on a data set seeded by lessons.review.seeding, with production settings.

It uses DATABASE_URL if set, else PostgreSQL's sandbox_bench_review on 127.0.0.1 (created if
missing), and seeds it only when it does not hold that size already. Each page is requested
once to warm up (counting its queries), then timed; one JSON line per page:
{"name", "learners", "median", "p90", "runs", "queries"}, in milliseconds. Progress goes to
stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from lessons.review.seeding import Size

DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/sandbox_bench_review"
HTTPS = {"X-Forwarded-Proto": "https"}  # as the TLS proxy in front of production sends


def progress(message: str) -> None:
    print(f"bench-review: {message}", file=sys.stderr, flush=True)


def summary(name: str, learners: int, times_ms: list[float], queries: int) -> dict[str, Any]:
    """Return a page's JSON line: the median and 90th percentile of its timed requests."""
    line: dict[str, Any] = {
        "name": name,
        "learners": learners,
        "median": round(statistics.median(times_ms), 1),
    }
    if len(times_ms) >= 2:
        line["p90"] = round(statistics.quantiles(times_ms, n=10, method="inclusive")[-1], 1)
    return {**line, "runs": len(times_ms), "queries": queries}


def size_from_counts(
    learners: int, exercises: int, cases: int, attempts: int, progress_rows: int
) -> Size | None:
    """Return the Size a complete seeded data set with these row counts has; None when the
    counts fit no seed (none yet, or one interrupted part way)."""
    from lessons.review.seeding import Size

    if not learners or not exercises or cases % exercises or progress_rows != learners * exercises:
        return None
    if attempts % (learners * exercises):
        return None
    return Size(learners, exercises, attempts // (learners * exercises), cases // exercises)


def database_to_create(url: str) -> str | None:
    """Return the name of the PostgreSQL database a URL names; None for other databases."""
    import dj_database_url

    config = dj_database_url.parse(url)
    return config["NAME"] if config["ENGINE"] == "django.db.backends.postgresql" else None


def ensure_database(url: str) -> None:
    """Create the PostgreSQL database the URL names, if it does not exist."""
    name = database_to_create(url)
    if name is None:
        return
    import psycopg
    from psycopg import sql

    with psycopg.connect(url, dbname="postgres", autocommit=True) as connection:
        if connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            return
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        progress(f"created the database {name}")


def configure(workdir: Path) -> None:
    """Set the production settings (DEBUG off, static files collected, as docker compose
    runs them) before Django starts; the test client's host is allowed."""
    os.environ.update(
        {
            "DEBUG": "False",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "STATIC_ROOT": str(workdir / "static"),
            "SANDBOX_DATA_DIR": str(workdir),
            "DATABASE_URL": os.environ.get("DATABASE_URL", DEFAULT_DATABASE),
            "ALLOWED_HOSTS": "testserver",
            "LOG_LEVEL": "WARNING",
            "DJANGO_SETTINGS_MODULE": "sandbox.settings",
        }
    )


def seeded_size() -> Size | None:
    """Return the size of the seeded data set in the database, None if there is none whole."""
    from lessons.models import Case, Exercise
    from lessons.review.models import Membership, Progress
    from lessons.review.seeding import COURSE_SLUG
    from sandbox.models import Attempt

    in_course = {"exercise__lesson__course__slug": COURSE_SLUG}
    return size_from_counts(
        learners=Membership.objects.filter(cohort__course__slug=COURSE_SLUG).count(),
        exercises=Exercise.objects.filter(lesson__course__slug=COURSE_SLUG).count(),
        cases=Case.objects.filter(**in_course).count(),
        attempts=Attempt.objects.filter(**in_course).count(),
        progress_rows=Progress.objects.filter(**in_course).count(),
    )


def prepare(size: Size) -> None:
    """Migrate, collect static files, and seed unless the database holds this size."""
    from django.core.management import call_command

    from lessons.review import seeding

    started = time.monotonic()
    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    progress(f"migrated, static files collected ({time.monotonic() - started:.1f} s)")
    found = seeded_size()
    if found == size:
        progress(f"reusing the data set seeded before: {size}")
        return
    progress(f"seeding {size} (found {found or 'none'})")
    result = seeding.seed(size, replace=True, report=progress)
    progress(f"seeded in {result.seconds:.1f} s: {result.counts}")


@dataclass(frozen=True)
class Page:
    name: str
    url: str
    user: User


def pages() -> list[Page]:
    """Return the pages measured: an instructor's gradebook (first page, and sorted by an
    exercise), an exercise's statistics, a learner's drill-down, the learner's progress."""
    from django.contrib.auth.models import User
    from django.urls import reverse

    from lessons.models import Exercise
    from lessons.review import seeding
    from lessons.review.models import Cohort

    cohort = Cohort.objects.get(course__slug=seeding.COURSE_SLUG)
    instructor = User.objects.get(username=seeding.INSTRUCTOR)
    learner = User.objects.get(username=f"{seeding.LEARNER_PREFIX}00001")
    exercises = list(Exercise.objects.filter(lesson__course=cohort.course).order_by("position"))
    first, middle = exercises[0], exercises[len(exercises) // 2]
    gradebook = reverse("ls-teach-gradebook", args=[cohort.pk])
    return [
        Page("gradebook_ms", gradebook, instructor),
        Page("gradebook_sorted_ms", f"{gradebook}?sort=ex-{middle.pk}&dir=desc", instructor),
        Page(
            "exercise_stats_ms",
            reverse("ls-teach-exercise-stats", args=[cohort.pk, first.pk]),
            instructor,
        ),
        Page(
            "drilldown_ms",
            reverse("ls-teach-drilldown", args=[cohort.pk, learner.pk, first.pk]),
            instructor,
        ),
        Page("progress_ms", reverse("ls-progress", args=[cohort.course.slug]), learner),
    ]


def measure(page: Page, learners: int, runs: int) -> dict[str, Any]:
    """Request the page once to warm up (counting its queries), then `runs` times, timed."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(headers=HTTPS)
    client.force_login(page.user)

    def get() -> float:
        started = time.perf_counter()
        response = client.get(page.url)
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise SystemExit(f"{page.name}: {page.url} answered {response.status_code}")
        return elapsed

    with CaptureQueriesContext(connection) as queries:
        get()
    count = len(queries)  # now: the next request empties the log it reads
    return summary(page.name, learners, [get() for _ in range(runs)], count)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m lessons.review.bench", description=__doc__)
    parser.add_argument("--learners", type=int, default=500)
    parser.add_argument("--exercises", type=int, default=40)
    parser.add_argument("--attempts", type=int, default=10, help="per learner and exercise")
    parser.add_argument("--runs", type=int, default=7, help="timed requests per page")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="sandbox-bench-review-") as tmp:
        configure(Path(tmp))
        ensure_database(os.environ["DATABASE_URL"])
        import django

        django.setup()
        from lessons.review.seeding import Size

        progress(f"database {os.environ['DATABASE_URL'].split('@')[-1]}")
        prepare(Size(args.learners, args.exercises, args.attempts))
        for page in pages():
            print(json.dumps(measure(page, args.learners, args.runs)), flush=True)


if __name__ == "__main__":
    main()
