"""`python -m sandbox.bench` (or `make bench`): the pipeline's figures, measured in one
process tree on this machine, each against a baseline measured in the same run.

It starts real worker (and web) processes against Redis (REDIS_URL, default
127.0.0.1:6379 database 14, flushed) and a database of its own (DATABASE_URL
if set, else a new SQLite file), and prints one JSON line per figure:
{"name", "value", "unit", "baseline", "ratio"}. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import re
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from celery import shared_task
from django.db.models import Max, Min

from tests.live import ProcessGroup

NOOP_TASKS = 2000
PIPELINE_ATTEMPTS = 1000
BURST_ATTEMPTS = 200
LATENCY_SUBMISSIONS = 200
IDENTICAL_SUBMISSIONS = 100
EMBEDDED_MESSAGES = 10_000
PASSWORD = "bench-password-not-secret"
HTMX = {"HX-Request": "true"}
ATTEMPT_URL = re.compile(r'hx-get="/attempts/([0-9a-f-]+)/"')


@functools.cache
def counters():
    import redis

    return redis.Redis.from_url(os.environ["REDIS_URL"])


@shared_task(name="sandbox.bench_noop", ignore_result=True)
def noop(counter: str) -> None:
    """Count a finished no-op: the floor of a Celery round trip on this broker."""
    counters().incr(counter)


@shared_task(name="sandbox.bench_mark", ignore_result=True)
def mark(path: str) -> None:
    """Append one byte to a file: counts the messages a worker on the embedded broker ran."""
    with open(path, "ab") as f:
        f.write(b".")


@dataclass
class BenchProcesses(ProcessGroup):
    """The run's processes: the shared environment plus a figure's own settings."""

    overrides: dict[str, str] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        return {**os.environ, **self.overrides}


def progress(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def figure(name: str, value: float, unit: str, baseline: float) -> None:
    ratio = round(value / baseline, 3) if baseline else None
    line = {"name": name, "value": round(value, 3), "unit": unit, "baseline": round(baseline, 3)}
    print(json.dumps({**line, "ratio": ratio}), flush=True)


def configure(workdir: Path) -> dict[str, str]:
    """Set the environment every process of the run shares, before Django starts: the
    production settings (DEBUG off), as docker compose runs them."""
    env = {
        "DEBUG": "False",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "STATIC_ROOT": str(workdir / "static"),
        "SANDBOX_DATA_DIR": str(workdir),
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/14"),
        # A queue of the run's own: a worker left over from another run cannot take its tasks.
        "CELERY_QUEUE": f"bench-{os.getpid()}",
        "DATABASE_URL": os.environ.get("DATABASE_URL", f"sqlite:///{workdir / 'bench.sqlite3'}"),
        "SUBMISSIONS_PER_MINUTE": "1000000",
        "DAILY_TOKEN_BUDGET": "1000000000",
        "DAILY_COST_BUDGET_USD": "1000000",
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "sandbox.settings",
    }
    os.environ.update(env)
    return env


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox.bench", description=__doc__)
    parser.add_argument(
        "--only", help="measure only these figures, comma-separated (e.g. burst,latency)"
    )
    only = parser.parse_args().only
    with tempfile.TemporaryDirectory(prefix="sandbox-bench-") as tmp:
        workdir = Path(tmp)
        configure(workdir)
        from lessons.review.bench import ensure_database

        ensure_database(os.environ["DATABASE_URL"])  # a fresh PostgreSQL has none yet
        import django

        django.setup()
        Bench(workdir).run(only.split(",") if only else None)


class Bench:
    """Set up an exercise per test-case count, then measure each figure with its own worker."""

    def __init__(self, workdir: Path) -> None:
        import redis
        from django.contrib.auth.models import User
        from django.core.management import call_command

        from lessons.models import Course, Lesson
        from sandbox.models import Attempt

        self.workdir = workdir
        self.redis = redis.Redis.from_url(os.environ["REDIS_URL"])
        self.redis.flushdb()
        database = os.environ["DATABASE_URL"].split("@")[-1]
        progress(f"database {database}, broker {os.environ['REDIS_URL']}")
        call_command("migrate", verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        Course.objects.filter(slug="bench").delete()
        # Earlier runs' learners go, with their attempts and usage rows, so that each run
        # starts from the same tables (the day's spend is a sum over the usage rows).
        User.objects.filter(username__startswith="bench-").delete()
        course = Course.objects.create(slug="bench", title="Bench")
        lesson = Lesson.objects.create(course=course, slug="bench", title="Bench")
        self.user = User.objects.create_user(f"bench-{os.getpid()}", password=PASSWORD)
        # A class: the queued attempts are spread over BURST_ATTEMPTS learners, as a class's
        # are (one account cannot submit 200 at once: the rate limit), so the worker's
        # per-learner writes (their progress row) contend as a class's would.
        self.learners = [
            self.user,
            *User.objects.bulk_create(
                User(username=f"bench-{os.getpid()}-{n}") for n in range(1, BURST_ATTEMPTS)
            ),
        ]
        self.exercises = {cases: make_exercise(lesson, cases) for cases in (1, 3)}
        self.Attempt = Attempt

    def group(self, name: str, **env: str) -> BenchProcesses:
        folder = self.workdir / name
        folder.mkdir()
        return BenchProcesses(folder, overrides=env)

    @contextmanager
    def workers(
        self, name: str, count: int = 1, concurrency: int = 32, **env: str
    ) -> Iterator[list[BenchProcesses]]:
        """Run `count` worker processes for the block, each in a folder of its own."""
        groups = []
        try:
            for n in range(count):
                group = self.group(f"{name}-{n}", **env)
                groups.append(group)
                group.start_worker(concurrency, include="sandbox.bench")
            yield groups
        finally:
            for group in groups:
                group.stop()

    def queue(self, cases: int, count: int, prompt: str, unique: bool = True) -> list[str]:
        """Create `count` queued attempts (saved first, as a submit does) and return their ids."""
        exercise = self.exercises[cases]
        attempts = [
            self.Attempt(
                learner=self.learners[i % len(self.learners)],
                exercise=exercise,
                user_prompt=f"{prompt} {i if unique else ''} {{n}}",
            )
            for i in range(count)
        ]
        self.Attempt.objects.bulk_create(attempts)
        return [str(a.id) for a in attempts]

    def publish(self, ids: list[str]) -> float:
        """Publish run_attempt for each attempt, as each submission does after it commits."""
        from sandbox.tasks import run_attempt

        started = time.time()
        for attempt_id in ids:
            run_attempt.delay(attempt_id)
        return started

    def last_graded(self, ids: list[str], timeout: float) -> float:
        """Wait until every attempt is graded; return when the last one was, by the worker's
        clock (the same machine's): its grading transaction's timestamp, which the commit
        follows within a millisecond. So the polling, kept slow enough not to compete with
        the processes it measures, adds nothing to the figures.

        One attempt is polled every 2 ms by its key. A batch (queued together on one
        exercise, every earlier attempt final) is polled every 20 ms through the index of
        unfinished attempts: asking for its thousand ids each time cost this process 2.7 ms
        of CPU per attempt, taken from the worker and the database it measures on two cores,
        where the no-op floor's counter costs a Redis GET."""
        attempts = self.Attempt.objects.filter(id__in=ids)
        if len(ids) == 1:
            remaining, interval = attempts.exclude(status__in=self.Attempt.FINAL), 0.002
        else:
            batch = attempts.aggregate(first=Min("created_at"), exercise=Max("exercise_id"))
            remaining = self.Attempt.objects.filter(
                exercise_id=batch["exercise"],
                created_at__gte=batch["first"],
                status__in=(self.Attempt.QUEUED, self.Attempt.RUNNING),
            )
            interval = 0.02
        deadline = time.monotonic() + timeout
        while remaining.exists():
            if time.monotonic() > deadline:
                raise SystemExit(f"bench: attempts still unfinished after {timeout}s")
            time.sleep(interval)
        self.check_graded(ids)
        return attempts.aggregate(last=Max("finished_at"))["last"].timestamp()

    def check_graded(self, ids: list[str]) -> None:
        failed = self.Attempt.objects.filter(id__in=ids).exclude(status=self.Attempt.GRADED)
        if failed.exists():
            raise SystemExit(f"bench: {failed.count()} attempts ended in error: {failed[0].error}")

    def run(self, only: list[str] | None = None) -> None:
        """Measure every figure, or those named (throughput includes its floor). Throughput
        and the burst are measured on one worker process, then on two, as
        `docker compose up --scale worker=2` runs them."""
        wanted = set(only or ("throughput", "burst", "latency", "identical", "embedded"))
        for workers in (1, 2):
            if "throughput" in wanted:
                self.pipeline_throughput(self.noop_throughput(workers), workers)
            if "burst" in wanted:
                self.burst(workers)
        if "latency" in wanted:
            self.latency()
        if "identical" in wanted:
            self.identical_submissions()
        if "embedded" in wanted:
            self.embedded_broker()

    def noop_throughput(self, workers: int) -> float:
        name = named("celery_noop_throughput", workers)
        with self.workers(name, workers):
            progress(f"{name}: {NOOP_TASKS} no-op tasks")
            value = self.run_noops(f"bench:{name}")
        figure(name, value, "tasks/s", value)
        return value

    def run_noops(self, counter: str) -> float:
        """Publish NOOP_TASKS no-op tasks, wait until a worker ran them all; return tasks/s."""
        started = time.monotonic()
        for _ in range(NOOP_TASKS):
            noop.delay(counter)
        while int(self.redis.get(counter) or 0) < NOOP_TASKS:
            time.sleep(0.002)
        return NOOP_TASKS / (time.monotonic() - started)

    def pipeline_throughput(self, floor: float, workers: int) -> None:
        name = named("pipeline_throughput", workers)
        with self.workers(name, workers):
            progress(f"{name}: {PIPELINE_ATTEMPTS} attempts, zero-latency stub")
            ids = self.queue(1, PIPELINE_ATTEMPTS, f"Say {name}")
            started = self.publish(ids)
            finished = self.last_graded(ids, 300)
        figure(name, PIPELINE_ATTEMPTS / (finished - started), "attempts/s", floor)

    def burst(self, workers: int) -> None:
        """The class burst, the 200 threads shared by the worker processes."""
        name = named("burst_200x3_seconds", workers)
        concurrency = BURST_ATTEMPTS // workers
        with self.workers(name, workers, concurrency, STUB_LATENCY_MS="1000"):
            progress(f"{name}: {BURST_ATTEMPTS} attempts x 3 cases, 1 s per call")
            single = self.queue(3, 1, f"Say single {name}")
            started = self.publish(single)
            baseline = self.last_graded(single, 60) - started
            ids = self.queue(3, BURST_ATTEMPTS, f"Say {name}")
            started = self.publish(ids)
            finished = self.last_graded(ids, 120)
        figure(name, finished - started, "s", baseline)

    def latency(self) -> None:
        from tests.live import Browserless

        group = self.group("latency")
        try:
            group.start_worker(32, include="sandbox.bench")
            group.start_web()
            client = Browserless(group.url, tls_proxy=True)
            client.login(self.user.username, PASSWORD)
            submit = f"/exercises/{self.exercises[3].id}/submit/"
            progress(f"latency: {LATENCY_SUBMISSIONS} submissions one after another, 3 cases each")
            samples = []
            for i in range(LATENCY_SUBMISSIONS + 10):
                sent = time.time()
                # As the page does it: htmx gets the status partial back, not a redirect.
                _, _, html = client.post(submit, {"user": f"Say latency {i} {{n}}"}, HTMX)
                found = ATTEMPT_URL.search(html)
                if not found:
                    raise SystemExit(f"bench: the submit answered no attempt: {html[:300]}")
                graded = self.last_graded([found.group(1)], 30)
                if i >= 10:  # the first few warm up connections and caches
                    samples.append((graded - sent) * 1000)
            noop_samples = self.noop_latency()
        finally:
            group.stop()
        figure("latency_p50_ms", statistics.median(samples), "ms", statistics.median(noop_samples))
        figure("latency_p95_ms", p95(samples), "ms", p95(noop_samples))

    def noop_latency(self) -> list[float]:
        """Return round trips of one no-op task at a time, in milliseconds."""
        samples = []
        for i in range(100):
            counter = f"bench:noop-latency:{i}"
            started = time.monotonic()
            noop.delay(counter)
            while not self.redis.get(counter):
                time.sleep(0.0005)
            samples.append((time.monotonic() - started) * 1000)
        return samples

    def embedded_broker(self) -> None:
        """EMBEDDED_MESSAGES messages in a row through the embedded broker (files, as `make
        run` uses it) to one worker: how many it ran, and whether it is still alive."""
        from celery import Celery

        folder = self.workdir / "embedded"
        env = {"REDIS_URL": "", "SANDBOX_DATA_DIR": str(folder)}
        broker = {
            key: str(folder / "broker" / name)
            for key, name in [
                ("data_folder_in", "queue"),
                ("data_folder_out", "queue"),
                ("processed_folder", "processed"),
                ("control_folder", "control"),
            ]
        }
        for path in broker.values():
            Path(path).mkdir(parents=True, exist_ok=True)
        publisher = Celery("embedded-publisher", broker="filesystem://")
        publisher.conf.broker_transport = "sandbox.broker:Transport"
        publisher.conf.broker_transport_options = {**broker, "store_processed": False}
        publisher.conf.task_default_queue = os.environ["CELERY_QUEUE"]
        marks = folder / "marks"
        marks.touch()
        with self.workers("embedded", 1, concurrency=8, **env) as (group,):
            progress(f"embedded_broker: {EMBEDDED_MESSAGES} messages through the file broker")
            worker = group.processes[0]
            deadline = time.monotonic() + 600
            for sent in range(EMBEDDED_MESSAGES):
                publisher.send_task("sandbox.bench_mark", args=[str(marks)])
                # Keep the queue short: the transport lists the folder for every message.
                while sent - marks.stat().st_size > 200 and worker.poll() is None:
                    if time.monotonic() > deadline:
                        raise SystemExit("bench: the embedded worker stopped taking messages")
                    time.sleep(0.01)
            while marks.stat().st_size < EMBEDDED_MESSAGES and worker.poll() is None:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            alive = worker.poll() is None
        ran = marks.stat().st_size
        figure("embedded_broker_messages_run", ran, "messages", EMBEDDED_MESSAGES)
        figure("embedded_broker_worker_deaths", 0 if alive else 1, "deaths", 0)

    def identical_submissions(self) -> None:
        from sandbox.models import UsageRecord

        with self.workers("identical", STUB_LATENCY_MS="300"):
            progress(f"identical_submissions: {IDENTICAL_SUBMISSIONS} identical prompts at once")
            ids = self.queue(1, IDENTICAL_SUBMISSIONS, "Say the same", unique=False)
            self.publish(ids)
            self.last_graded(ids, 120)
        calls = UsageRecord.objects.filter(attempt_id__in=ids, cache_hit=False).count()
        figure("identical_submissions_backend_calls", calls, "calls", IDENTICAL_SUBMISSIONS)


def named(figure: str, workers: int) -> str:
    return figure if workers == 1 else f"{figure}_{workers}_workers"


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[18]


def make_exercise(lesson, cases: int):
    """Return a published exercise on the stub's echo model with `cases` test cases."""
    from lessons.models import Case, Exercise

    exercise = Exercise.objects.create(
        lesson=lesson,
        slug=f"echo-{cases}",
        title=f"Echo x{cases}",
        status=Exercise.PUBLISHED,
        editable_fields=["user"],
        variables=["n"],
        model_name="echo",
        rubric={"criteria": [{"id": "says", "kind": "contains", "params": {"text": "Say"}}]},
    )
    for i in range(cases):
        Case.objects.create(
            exercise=exercise, name=f"case {i}", position=i, variables={"n": str(i)}
        )
    return exercise


if __name__ == "__main__":
    main()
