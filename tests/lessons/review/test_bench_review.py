"""The review benchmark's pieces: its figures, how it recognises a seeded data set, and a
small run end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from lessons.review import bench
from lessons.review.seeding import Size

ROOT = Path(__file__).resolve().parents[3]


def test_a_figure_is_the_median_and_90th_percentile_of_its_runs():
    line = bench.summary("gradebook_ms", 500, [30.0, 10.0, 20.0, 50.0, 40.0], queries=9)

    assert line == {
        "name": "gradebook_ms",
        "learners": 500,
        "median": 30.0,
        "p90": 46.0,
        "runs": 5,
        "queries": 9,
    }
    assert list(line) == ["name", "learners", "median", "p90", "runs", "queries"]


def test_one_run_has_no_percentile():
    assert bench.summary("progress_ms", 2, [12.345], queries=3) == {
        "name": "progress_ms",
        "learners": 2,
        "median": 12.3,
        "runs": 1,
        "queries": 3,
    }


def test_the_counts_of_a_whole_seed_give_its_size():
    found = bench.size_from_counts(
        learners=500, exercises=40, cases=120, attempts=200_000, progress_rows=20_000
    )

    assert found == Size(learners=500, exercises=40, attempts=10, cases=3)


@pytest.mark.parametrize(
    "counts",
    [
        {"learners": 0, "exercises": 0, "cases": 0, "attempts": 0, "progress_rows": 0},
        # Interrupted: the last learners' transaction never committed.
        {
            "learners": 500,
            "exercises": 40,
            "cases": 120,
            "attempts": 160_000,
            "progress_rows": 16_000,
        },
        {
            "learners": 500,
            "exercises": 40,
            "cases": 120,
            "attempts": 199_999,
            "progress_rows": 20_000,
        },
        {
            "learners": 500,
            "exercises": 40,
            "cases": 121,
            "attempts": 200_000,
            "progress_rows": 20_000,
        },
    ],
)
def test_counts_that_fit_no_whole_seed_give_none(counts):
    assert bench.size_from_counts(**counts) is None


def test_the_database_to_create_is_postgresql_only():
    assert bench.database_to_create(bench.DEFAULT_DATABASE) == "sandbox_bench_review"
    assert bench.database_to_create("sqlite:////tmp/bench.sqlite3") is None


def test_the_seeded_size_is_read_from_the_database(db, settings):
    assert bench.seeded_size() is None
    settings.DEBUG = True
    args = ["--learners", "2", "--exercises", "3", "--attempts", "2", "--cases", "2"]
    call_command("seed_demo", *args, stdout=StringIO())

    assert bench.seeded_size() == Size(learners=2, exercises=3, attempts=2, cases=2)


@pytest.mark.slow
def test_a_small_run_prints_a_line_per_page(tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'bench.sqlite3'}",
        "SANDBOX_DATA_DIR": str(tmp_path),
    }
    command = [sys.executable, "-m", "lessons.review.bench", "--learners", "2"]
    command += ["--exercises", "2", "--attempts", "2", "--runs", "2"]

    first = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    again = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)

    assert first.returncode == 0, first.stderr
    lines = [json.loads(line) for line in first.stdout.splitlines()]
    assert [line["name"] for line in lines] == [
        "gradebook_ms",
        "gradebook_sorted_ms",
        "exercise_stats_ms",
        "drilldown_ms",
        "progress_ms",
    ]
    assert all(line["learners"] == 2 and line["runs"] == 2 for line in lines)
    assert all(line["queries"] > 0 and line["median"] > 0 for line in lines)
    assert "seeding" in first.stderr
    assert again.returncode == 0, again.stderr
    assert "reusing the data set" in again.stderr
