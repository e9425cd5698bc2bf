"""Calibrate the judge criteria of exercises against their labelled outputs, and print each
criterion's calibrations, one line per run, newest first (docs/calibration.md)."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError

from graders.calibration import Thresholds, shortfalls
from lessons.authoring import calibrating
from lessons.models import Exercise, JudgeCalibration

HISTORY = 5  # earlier runs shown under each new one


def exercises_at(path: str) -> list[Exercise]:
    """Return the exercise with this id, or at this course/lesson/exercise slug path; a
    course or course/lesson path names every exercise there with a judge criterion."""
    exercises = Exercise.objects.select_related("lesson__course").order_by(
        "lesson__course__slug", "lesson__position", "position"
    )
    if path.isdigit():
        found = list(exercises.filter(pk=int(path)))
    else:
        parts = path.strip("/").split("/")
        if len(parts) > 3:
            raise CommandError(
                f"{path!r}: expected course, course/lesson or course/lesson/exercise."
            )
        names = ("lesson__course__slug", "lesson__slug", "slug")
        found = list(exercises.filter(**dict(zip(names, parts, strict=False))))
        if len(parts) < 3:
            found = [
                e for e in found if any(c.kind == "llm_judge" for c in e.parsed_rubric.criteria)
            ]
    if not found:
        raise CommandError(f"There is no exercise {path!r} (with a judge criterion).")
    return found


def share(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


class Command(BaseCommand):
    help = (
        "Grade each judge criterion's labelled outputs (course files and instructors' "
        "decisions) with the exercise's judge, and report accuracy, Cohen's kappa and the "
        "false-pass rate per version of the judge prompt. The results are kept."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "exercises",
            nargs="+",
            metavar="EXERCISE",
            help="an exercise id, or course/lesson/exercise slugs; course or course/lesson "
            "for every exercise there with a judge criterion",
        )
        parser.add_argument("--criterion", help="only this judge criterion (by id)")
        parser.add_argument(
            "--user",
            help="the username whose ledger the judge calls go on, within their budget "
            "(default: no one's)",
        )
        parser.add_argument(
            "--check",
            action="store_true",
            help="exit 1 when a criterion falls short of the thresholds below, or has no "
            "labels, no label of one class, or an error",
        )
        defaults = Thresholds()
        parser.add_argument("--min-accuracy", type=float, default=defaults.min_accuracy)
        parser.add_argument("--max-false-pass", type=float, default=defaults.max_false_pass_rate)
        parser.add_argument("--min-kappa", type=float, default=defaults.min_kappa)

    def handle(self, *args, **options) -> None:
        user = None
        if options["user"]:
            user = User.objects.filter(username=options["user"]).first()
            if user is None:
                raise CommandError(f"There is no user {options['user']!r}.")
        thresholds = Thresholds(
            options["min_accuracy"], options["max_false_pass"], options["min_kappa"]
        )
        failed: list[str] = []
        for path in options["exercises"]:
            for exercise in exercises_at(path):
                try:
                    rows = calibrating.calibrate(exercise, options["criterion"], user)
                except calibrating.CalibrationError as e:
                    raise CommandError(f"{path}: {e}") from None
                for row in rows:
                    failed += self.report(exercise, row, thresholds)
        if options["check"] and failed:
            raise CommandError("calibration check failed:\n" + "\n".join(failed))

    def report(
        self, exercise: Exercise, row: JudgeCalibration, thresholds: Thresholds
    ) -> list[str]:
        """Print a criterion's calibrations, the new one first; return its shortfalls."""
        lesson = exercise.lesson
        name = f"{lesson.course.slug}/{lesson.slug}/{exercise.slug} · {row.criterion_id}"
        self.stdout.write(f"\n{name}")
        self.stdout.write(
            f"  {'version':<12}  {'date':<16}  {'n':>4}  {'accuracy':>8}  {'kappa':>6}  "
            f"{'false pass':>10}  {'review':>6}  status"
        )
        earlier = exercise.calibrations.filter(criterion_id=row.criterion_id).exclude(pk=row.pk)
        for shown in [row, *earlier[:HISTORY]]:
            kappa = "–" if shown.kappa is None else f"{shown.kappa:.2f}"
            self.stdout.write(
                f"  {shown.prompt_version:<12}  {shown.created_at:%Y-%m-%d %H:%M}  "
                f"{shown.n:>4}  {share(shown.accuracy):>8}  {kappa:>6}  "
                f"{share(shown.false_pass_rate):>10}  {shown.needs_review:>6}  {shown.status}"
                + (" (this run)" if shown.pk == row.pk else "")
            )
        for label, outcome, detail in row.misjudged():
            said = "met" if label["met"] else "not met"
            preview = " ".join(label["output"].split())[:60]
            self.stdout.write(f"    misjudged ({said}, judge {outcome}): {preview!r} — {detail}")
        if row.status != JudgeCalibration.DONE:
            return [f"{name}: {row.error or row.status}"]
        return [f"{name}: {s}" for s in shortfalls(row, thresholds)]  # the figures it keeps
