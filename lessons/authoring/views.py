"""The instructor's pages under /teach/: courses, lessons, exercises, cases, rubric, publishing.

Every object is looked up through a `_get_<thing>_for_instructor` helper: a course the user
does not teach does not exist for them (404, never 403).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.db.models import Count, Max, Prefetch, Q
from django.forms import BaseFormSet
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from django_htmx.http import HttpResponseStopPolling

import graders
from lessons.authoring import calibrating, editing, health, pitfalls, publishing, regrading
from lessons.authoring.forms import (
    CaseForm,
    CaseFormSet,
    CourseForm,
    CriterionForm,
    CriterionFormSet,
    ExerciseForm,
    ImportCasesForm,
    LessonForm,
    NewExerciseForm,
    RubricSettingsForm,
    RubricYamlForm,
    TryRubricForm,
    error_field,
)
from lessons.markdown import render_markdown
from lessons.models import Case, Course, Exercise, Lesson, PublishCheck
from lessons.review import cohorts as joining
from lessons.review.models import Cohort, ReviewItem
from lessons.tasks import calibrate_judge as calibrate_task
from lessons.tasks import check_exercises as health_task
from lessons.tasks import regrade as regrade_task
from sandbox import limits
from sandbox.models import Attempt
from sandbox.views import LearnerRequest

# The rubric of a new exercise: valid, so the exercise saves; the author replaces it.
STARTER_RUBRIC = {
    "pass_threshold": 1.0,
    "criteria": [{"id": "answers", "kind": "length", "params": {"unit": "characters", "min": 1}}],
}
STARTER_STUB = {"default": "Replace this reply with stub rules for offline use."}


def _can_create_courses(user) -> bool:
    return user.is_staff


def _get_course_for_instructor(request: LearnerRequest, course_slug: str) -> Course:
    """Return a course the user teaches, or 404."""
    return get_object_or_404(Course.objects.taught_by(request.user), slug=course_slug)


def _get_lesson_for_instructor(request: LearnerRequest, course_slug: str, lesson_id: int) -> Lesson:
    """Return a lesson of a course the user teaches, or 404."""
    course = _get_course_for_instructor(request, course_slug)
    return get_object_or_404(course.lessons.select_related("course"), pk=lesson_id)


def _get_exercise_for_instructor(request: LearnerRequest, exercise_id: int) -> Exercise:
    """Return an exercise of a course the user teaches, or 404."""
    return get_object_or_404(
        Exercise.objects.select_related("lesson__course").filter(
            lesson__course__instructors=request.user
        ),
        pk=exercise_id,
    )


def _exercise_context(exercise: Exercise, **extra) -> dict:
    return {
        "exercise": exercise,
        "lesson": exercise.lesson,
        "course": exercise.lesson.course,
        "case_count": exercise.cases.count(),
        "check": exercise.publish_checks.first(),
        "judged_by_itself": exercise.judged_by_itself(),
        "setting_warnings": [message for _, message in pitfalls.setting_warnings(exercise)],
        "has_judge": bool(calibrating.judges(exercise)),
        **extra,
    }


def _save_and_recheck(request: LearnerRequest, exercise: Exercise, **save) -> None:
    """Save an edit of the exercise; if it is published and the edit touches what its
    publish check depends on, the check runs again."""
    with transaction.atomic():
        exercise.save(**save)
        publishing.recheck_if_changed(exercise, request.user)


# ---------------------------------------------------------------------------------------------
# Courses


@login_required
@require_safe
def teach_home(request: LearnerRequest) -> HttpResponse:
    """The courses I teach with their cohorts, the needs-review count, and a way to start a
    course."""
    courses = (
        Course.objects.taught_by(request.user)
        .annotate(
            lesson_count=Count("lessons", distinct=True),
            exercise_count=Count("lessons__exercises", distinct=True),
            draft_count=Count(
                "lessons__exercises",
                filter=Q(lessons__exercises__status=Exercise.DRAFT),
                distinct=True,
            ),
        )
        .prefetch_related(
            Prefetch(
                "cohorts",
                queryset=Cohort.objects.annotate(member_count=Count("memberships")),
                to_attr="cohort_list",
            )
        )
    )
    can_create = _can_create_courses(request.user)
    if not can_create and not courses:
        raise Http404("Nothing to teach")
    open_reviews = ReviewItem.objects.filter(
        resolved_at__isnull=True,
        attempt__exercise__lesson__course__in=Course.objects.taught_by(request.user),
    ).count()
    context = {
        "courses": courses,
        "can_create": can_create,
        "failing_checks": publishing.failing_checks(request.user),
        "open_reviews": open_reviews,
    }
    return render(request, "lessons/teach/home.html", context)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def create_course(request: LearnerRequest) -> HttpResponse:
    if not _can_create_courses(request.user):
        raise Http404("Only staff users start courses")
    form = CourseForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        with transaction.atomic():
            position = (Course.objects.aggregate(m=Max("position"))["m"] or 0) + 1
            course = Course.objects.create(
                slug=data["slug"],
                title=data["title"],
                description=data["description"],
                position=position,
                published=False,  # a draft until its instructors publish it
            )
            course.instructors.add(request.user, *data["instructors"])
        return redirect("ls-teach-course", course.slug)
    status = 422 if form.errors else 200
    return render(request, "lessons/teach/create_course.html", {"form": form}, status=status)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def edit_course(request: LearnerRequest, course_slug: str) -> HttpResponse:
    """The course's settings, and its lessons and exercises in order."""
    course = _get_course_for_instructor(request, course_slug)
    others = course.instructors.exclude(pk=request.user.pk)
    initial = {
        "title": course.title,
        "slug": course.slug,
        "description": course.description,
        "instructors": ", ".join(u.username for u in others),
    }
    form = CourseForm(
        request.POST if request.method == "POST" else None, initial=initial, course=course
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        course.title, course.slug, course.description = (
            data["title"],
            data["slug"],
            data["description"],
        )
        with transaction.atomic():
            # The course's row, updated first, holds off another edit until this one commits.
            course.save(update_fields=["title", "slug", "description", "updated_at"])
            course.instructors.set([request.user, *form.instructors_after(list(others))])
            joining.drop_instructors(course)
        messages.success(request, "Course saved.")
        return redirect("ls-teach-course", course.slug)
    lessons = course.lessons.prefetch_related("exercises")
    context = {"course": course, "form": form, "lessons": lessons}
    return render(request, "lessons/teach/course.html", context, status=422 if form.errors else 200)


@login_required
@require_POST
def archive_course(request: LearnerRequest, course_slug: str) -> HttpResponse:
    """Archive the course (learners no longer see it), or bring it back."""
    course = _get_course_for_instructor(request, course_slug)
    course.archived = not course.archived
    course.save(update_fields=["archived", "updated_at"])
    return redirect("ls-teach-course", course.slug)


def _set_published(request: LearnerRequest, item: Course | Lesson, **save) -> None:
    """Publish the course or lesson (POST published=1), or unpublish it, and say what
    learners see."""
    item.published = request.POST.get("published") == "1"
    item.save(**save)
    if item.published:
        when = (
            "once it has a published exercise" if isinstance(item, Course) else "in a live course"
        )
        messages.success(request, f"Published “{item}”: learners see it {when}.")
    else:
        messages.success(request, f"Unpublished “{item}”: learners no longer see it.")


@login_required
@require_POST
def publish_course(request: LearnerRequest, course_slug: str) -> HttpResponse:
    course = _get_course_for_instructor(request, course_slug)
    _set_published(request, course, update_fields=["published", "updated_at"])
    return redirect("ls-teach-course", course.slug)


@login_required
@require_POST
def preview_markdown(request: LearnerRequest, course_slug: str) -> HttpResponse:
    """Return markdown as the learner's page renders it: sanitized by the same function."""
    _get_course_for_instructor(request, course_slug)
    text = request.POST.get("body", request.POST.get("instructions", ""))
    # Past MAX_MARKDOWN_CHARS the save refuses the text: rendering more (up to the request
    # size, seconds for crafted Markdown) would only cost the server time.
    text = text[: settings.MAX_MARKDOWN_CHARS]
    return render(request, "lessons/teach/_preview.html", {"html": render_markdown(text)})


# ---------------------------------------------------------------------------------------------
# Lessons


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def create_lesson(request: LearnerRequest, course_slug: str) -> HttpResponse:
    course = _get_course_for_instructor(request, course_slug)
    form = LessonForm(request.POST if request.method == "POST" else None, course=course)
    if request.method == "POST" and form.is_valid():
        position = (course.lessons.aggregate(m=Max("position"))["m"] or 0) + 1
        lesson = Lesson.objects.create(
            course=course, position=position, published=False, **form.cleaned_data
        )
        messages.success(request, "Lesson created.")
        return redirect("ls-teach-lesson", course.slug, lesson.pk)
    context = {"course": course, "form": form, "lesson": None}
    status = 422 if form.errors else 200
    return render(request, "lessons/teach/lesson.html", context, status=status)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def edit_lesson(request: LearnerRequest, course_slug: str, lesson_id: int) -> HttpResponse:
    lesson = _get_lesson_for_instructor(request, course_slug, lesson_id)
    initial = {"title": lesson.title, "slug": lesson.slug, "body": lesson.body}
    form = LessonForm(
        request.POST if request.method == "POST" else None,
        initial=initial,
        course=lesson.course,
        lesson=lesson,
    )
    if request.method == "POST" and form.is_valid():
        for name, value in form.cleaned_data.items():
            setattr(lesson, name, value)
        lesson.save(update_fields=["title", "slug", "body"])
        messages.success(request, "Lesson saved.")
        return redirect("ls-teach-lesson", lesson.course.slug, lesson.pk)
    context = {"course": lesson.course, "form": form, "lesson": lesson}
    status = 422 if form.errors else 200
    return render(request, "lessons/teach/lesson.html", context, status=status)


def _direction(request: LearnerRequest) -> int:
    return -1 if request.POST.get("direction") == "up" else 1


@login_required
@require_POST
def move_lesson(request: LearnerRequest, course_slug: str, lesson_id: int) -> HttpResponse:
    lesson = _get_lesson_for_instructor(request, course_slug, lesson_id)
    editing.move(lesson.course.lessons.all(), lesson, _direction(request))
    return redirect("ls-teach-course", lesson.course.slug)


@login_required
@require_POST
def publish_lesson(request: LearnerRequest, course_slug: str, lesson_id: int) -> HttpResponse:
    lesson = _get_lesson_for_instructor(request, course_slug, lesson_id)
    _set_published(request, lesson, update_fields=["published"])
    return redirect("ls-teach-course", lesson.course.slug)


@login_required
@require_POST
def archive_lesson(request: LearnerRequest, course_slug: str, lesson_id: int) -> HttpResponse:
    lesson = _get_lesson_for_instructor(request, course_slug, lesson_id)
    lesson.archived = not lesson.archived
    lesson.save(update_fields=["archived"])
    return redirect("ls-teach-course", lesson.course.slug)


# ---------------------------------------------------------------------------------------------
# Exercises


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def create_exercise(request: LearnerRequest, course_slug: str, lesson_id: int) -> HttpResponse:
    """Start a draft exercise with a placeholder rubric; the editor does the rest."""
    lesson = _get_lesson_for_instructor(request, course_slug, lesson_id)
    form = NewExerciseForm(request.POST if request.method == "POST" else None, lesson=lesson)
    if request.method == "POST" and form.is_valid():
        position = (lesson.exercises.aggregate(m=Max("position"))["m"] or 0) + 1
        exercise = Exercise.objects.create(
            lesson=lesson,
            position=position,
            status=Exercise.DRAFT,
            editable_fields=["user"],
            rubric=STARTER_RUBRIC,
            stub=STARTER_STUB,
            **form.cleaned_data,
        )
        return redirect("ls-teach-exercise", exercise.pk)
    context = {"course": lesson.course, "lesson": lesson, "form": form}
    status = 422 if form.errors else 200
    return render(request, "lessons/teach/create_exercise.html", context, status=status)


# The exercise editor's fields that are saved as the form cleaned them.
EDITOR_FIELDS = (
    "title",
    "slug",
    "instructions",
    "starter_system",
    "starter_user",
    "starter_prefill",
    "slots",
    "examples",
    "variables",
    "fixed_variables",
    "temperature",
    "max_tokens",
    "samples",
    "sample_rule",
    "samples_needed",
    "hints",
    "known_bad",
    "stub",
)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def edit_exercise(request: LearnerRequest, exercise_id: int) -> HttpResponse:
    """The exercise editor: task, prompt fields, variables, model, hints, solution, stub."""
    exercise = _get_exercise_for_instructor(request, exercise_id)
    form = ExerciseForm(
        request.POST if request.method == "POST" else None,
        initial=ExerciseForm.initial_for(exercise),
        exercise=exercise,
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        exercise.backend, exercise.model_name = data["model"]
        for name in EDITOR_FIELDS:
            setattr(exercise, name, data[name])
        exercise.editable_fields = form.editable_fields()
        exercise.solution = form.solution()
        # Only what the editor shows: its status, read when the page was, may have changed
        # since (an Unpublish, a publish check decided), and is not the editor's to write.
        edited = [*EDITOR_FIELDS, "backend", "model_name", "editable_fields", "solution"]
        _save_and_recheck(request, exercise, update_fields=edited)
        messages.success(request, "Exercise saved.")
        for case, missing in exercise.cases_without_values():
            messages.warning(request, publishing.missing_values_message(case, missing))
        return redirect("ls-teach-exercise", exercise.pk)
    context = _exercise_context(exercise, form=form, tab="exercise")
    status = 422 if form.errors else 200
    return render(request, "lessons/teach/exercise.html", context, status=status)


@login_required
@require_POST
def move_exercise(request: LearnerRequest, exercise_id: int) -> HttpResponse:
    exercise = _get_exercise_for_instructor(request, exercise_id)
    editing.move(exercise.lesson.exercises.all(), exercise, _direction(request))
    return redirect("ls-teach-course", exercise.lesson.course.slug)


@login_required
@require_POST
def archive_exercise(request: LearnerRequest, exercise_id: int) -> HttpResponse:
    exercise = _get_exercise_for_instructor(request, exercise_id)
    exercise.archived = not exercise.archived
    exercise.save(update_fields=["archived"])
    return redirect("ls-teach-course", exercise.lesson.course.slug)


# ---------------------------------------------------------------------------------------------
# Test cases


def _case_initial(case: Case, variables: list[str], number: int) -> dict:
    initial = {
        "id": case.pk,
        "number": number,
        "name": case.name,
        "visibility": case.visibility,
        "reference": case.reference,
        "expected": editing.dump_yaml(case.expected),
        "weight": case.weight,
    }
    initial.update({f"var_{n}": str(case.variables.get(n, "")) for n in variables})
    return initial


def _case_formset(exercise: Exercise, data=None) -> BaseFormSet[CaseForm]:
    variables, numbers = exercise.case_variable_names(), editing.case_numbers(exercise)
    cases = list(exercise.cases.all())
    return CaseFormSet(
        data,
        initial=[_case_initial(c, variables, numbers[c.pk]) for c in cases],
        names={c.pk: c.name for c in cases},
        form_kwargs={
            "variables": variables,
            "expected_keys": editing.expected_keys(exercise),
            "rubric": exercise.parsed_rubric,
        },
        prefix="cases",
    )


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def edit_cases(request: LearnerRequest, exercise_id: int) -> HttpResponse:
    """The test cases as rows: edit, add one, delete; and bulk entry from CSV."""
    exercise = _get_exercise_for_instructor(request, exercise_id)
    cases = {c.pk: c for c in exercise.cases.all()}
    formset = _case_formset(exercise, request.POST if request.method == "POST" else None)
    if request.method == "POST" and formset.is_valid():
        with transaction.atomic():
            position = 0
            for form in formset:
                data = form.cleaned_data
                case = cases.get(data["id"]) if data.get("id") else None
                if data.get("DELETE"):
                    if case:
                        case.delete()
                    continue
                if not data.get("name"):
                    continue  # the blank row
                fields = form.case_fields()
                if case is None:
                    case = Case(exercise=exercise)
                for name, value in fields.items():
                    setattr(case, name, value)
                case.position = position
                case.save()
                position += 1
            publishing.recheck_if_changed(exercise, request.user)
        messages.success(request, "Test cases saved.")
        return redirect("ls-teach-cases", exercise.pk)
    context = _exercise_context(
        exercise, formset=formset, import_form=ImportCasesForm(), tab="cases"
    )
    status = 422 if request.method == "POST" else 200
    return render(request, "lessons/teach/cases.html", context, status=status)


@login_required
@require_POST
def import_cases(request: LearnerRequest, exercise_id: int) -> HttpResponse:
    """Add (or replace) test cases from CSV; all or nothing, every bad row named. An import
    that would add criteria to the rubric asks first: Confirm, or Import without them."""
    exercise = _get_exercise_for_instructor(request, exercise_id)
    form = ImportCasesForm(request.POST, request.FILES)
    errors: list[str] = []
    adds: list[dict] = []
    if form.is_valid():
        replace = form.cleaned_data["replace"]
        kept = set() if replace else set(exercise.cases.values_list("name", flat=True))
        variables = exercise.case_variable_names()
        text, fixed = form.cleaned_data["csv_text"], exercise.fixed_variables
        imported = editing.parse_cases_csv(text, variables, kept, fixed)
        errors = imported.errors
        adds = editing.missing_criteria(exercise.rubric, imported.criteria)
        decision = form.cleaned_data["criteria"]
        if not errors and (decision or not adds):
            with transaction.atomic():
                count = editing.save_imported_cases(exercise, imported, replace, decision != "skip")
                publishing.recheck_if_changed(exercise, request.user)
            added = ", ".join(c["id"] for c in adds) if decision != "skip" else ""
            note = f" The rubric now checks {added} on every case." if added else ""
            messages.success(request, f"Imported {count} test case{'s' * (count != 1)}.{note}")
            return redirect("ls-teach-cases", exercise.pk)
    context = _exercise_context(
        exercise,
        formset=_case_formset(exercise),
        import_form=form,
        import_errors=errors,
        confirm_criteria=[c["id"] for c in adds],  # none when the CSV has errors
        tab="cases",
    )
    return render(request, "lessons/teach/cases.html", context, status=200 if adds else 422)


# ---------------------------------------------------------------------------------------------
# Rubric


def _criterion_formset(exercise: Exercise, data=None) -> BaseFormSet[CriterionForm]:
    return CriterionFormSet(
        data,
        initial=[CriterionForm.initial_for(c) for c in exercise.rubric.get("criteria", [])],
        prefix="criteria",
    )


def _rubric_context(exercise: Exercise, request: LearnerRequest, **forms) -> dict:
    forms.setdefault("formset", _criterion_formset(exercise))
    forms.setdefault(
        "settings_form", RubricSettingsForm(initial=RubricSettingsForm.initial_for(exercise.rubric))
    )
    forms.setdefault(
        "yaml_form", RubricYamlForm(initial={"rubric": editing.dump_yaml(exercise.rubric)})
    )
    forms.setdefault("try_form", TryRubricForm(exercise=exercise))
    forms.setdefault("regrade", exercise.regrades.first())  # the regrade panel's, if it has one
    return _exercise_context(
        exercise,
        tab="rubric",
        kinds={name: kind for name, kind in sorted(graders.CRITERIA.items())},
        attempt_count=Attempt.objects.by_learners()
        .filter(exercise=exercise, status=Attempt.GRADED)
        .count(),
        **forms,
    )


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def edit_rubric(request: LearnerRequest, exercise_id: int) -> HttpResponse:
    """The rubric, criterion by criterion; an invalid rubric shows its error on the row at fault."""
    exercise = _get_exercise_for_instructor(request, exercise_id)
    if request.method != "POST":
        return render(request, "lessons/teach/rubric.html", _rubric_context(exercise, request))
    formset = _criterion_formset(exercise, request.POST)
    settings_form = RubricSettingsForm(request.POST)
    rubric_error = ""
    if formset.is_valid() and settings_form.is_valid():
        rows = [f for f in formset.forms if not f.cleaned_data.get("DELETE") and not f.is_blank]
        rubric = settings_form.rubric([f.criterion() for f in rows])
        try:
            graders.load_rubric(rubric)
        except graders.RubricError as e:
            rubric_error = show_rubric_error(e, rows, settings_form)
        else:
            exercise.rubric = rubric
            _save_and_recheck(request, exercise, update_fields=["rubric"])
            messages.success(request, "Rubric saved.")
            return redirect("ls-teach-rubric", exercise.pk)
    context = _rubric_context(exercise, request, formset=formset, settings_form=settings_form)
    context["rubric_error"] = rubric_error
    return render(request, "lessons/teach/rubric.html", context, status=422)


def show_rubric_error(error: graders.RubricError, rows, settings_form) -> str:
    """Put a RubricError on the row and field it names; return it when no row is named."""
    top = error.criterion.split(".")[0]
    row = next((f for f in rows if f.cleaned_data.get("id") == top), None)
    if row is None and not top:
        # "criterion 2 needs an id": the row is named by position.
        position = error.message.removeprefix("criterion ").split(" ")[0]
        if position.isdigit() and 0 < int(position) <= len(rows):
            row = rows[int(position) - 1]
    if row is not None:
        message = error.message if error.criterion == top else str(error)
        if error.field.startswith("params.") and error.criterion == top:
            # One box holds every parameter: name the one at fault ("pattern: is required").
            message = f"{error.field.removeprefix('params.')}: {message}"
        row.add_error(error_field(error.field), message)
        return ""
    if error.field.startswith("samples"):
        key = "bad_samples" if ".bad" in error.field else "good_samples"
        settings_form.add_error(key, str(error))
        return ""
    if error.field == "pass_threshold":
        settings_form.add_error("pass_threshold", error.message)
        return ""
    return str(error)


@login_required
@require_POST
def edit_rubric_yaml(request: LearnerRequest, exercise_id: int) -> HttpResponse:
    """Save the rubric written as YAML in one piece."""
    exercise = _get_exercise_for_instructor(request, exercise_id)
    form = RubricYamlForm(request.POST)
    if form.is_valid():
        exercise.rubric = form.cleaned_data["rubric"]
        _save_and_recheck(request, exercise, update_fields=["rubric"])
        messages.success(request, "Rubric saved.")
        return redirect("ls-teach-rubric", exercise.pk)
    context = _rubric_context(exercise, request, yaml_form=form)
    context["yaml_open"] = True
    return render(request, "lessons/teach/rubric.html", context, status=422)


@login_required
@require_POST
def try_rubric(request: LearnerRequest, exercise_id: int) -> HttpResponse:
    """Grade a pasted output with the saved rubric, criterion by criterion, as the worker
    would: no model answers, but judge criteria ask the judge, on the instructor's budget."""
    exercise = _get_exercise_for_instructor(request, exercise_id)
    form = TryRubricForm(request.POST, exercise=exercise)
    grade = None
    refused = ""
    if exercise.parsed_rubric.calls_a_model():
        refused = limits.budget_refusal(request.user)
        if form.is_valid() and not refused:
            refused = editing.judged_try_refusal(request.user.pk)
    if form.is_valid() and not refused:
        case_id = form.cleaned_data["case"]
        case = exercise.cases.filter(pk=case_id).first() if case_id else None
        with editing.judge_on_ledger(exercise, request.user.pk) as judge:
            grade = graders.try_rubric(
                exercise.parsed_rubric,
                form.cleaned_data["output"],
                case=case.as_grader_case() if case else None,
                # The starter prompt, rendered for the chosen case, as the runner would build it.
                submission=exercise.submission({}, case),
                judge=judge,
            )
    context = {"exercise": exercise, "try_form": form, "grade": grade, "try_refused": refused}
    status = 429 if refused else 200  # as a refused submit
    if request.htmx:
        return render(request, "lessons/teach/rubric.html#try_result", context, status=status)
    full = _rubric_context(exercise, request, try_form=form)
    full["grade"] = grade
    full["try_refused"] = refused
    return render(request, "lessons/teach/rubric.html", full, status=status)


# ---------------------------------------------------------------------------------------------
# Publishing


def _publish_panel(
    request: LearnerRequest, exercise: Exercise, announce: str = "", **extra
) -> HttpResponse:
    """The publishing panel; with htmx, the panel alone, and `announce` (what changed, in a
    sentence) for the page's status region, which stays in place so screen readers read it."""
    context = _exercise_context(exercise, **extra)
    if request.htmx:
        context["announcement"] = announce
        return render(request, "lessons/teach/_publish.html", context)
    return render(request, "lessons/teach/publish.html", context)


def check_announcement(check: PublishCheck) -> str:
    """Return what a screen reader says when a publish check starts, waits for a worker, or
    is decided."""
    if check.status == PublishCheck.CHECKING:
        if check.waiting_for_a_worker:
            return "Waiting for a worker to run the reference solution."
        return "Checking: the reference solution runs on every test case."
    if check.status == PublishCheck.PASSED:
        return "Published." if check.reason == PublishCheck.PUBLISH else "Checked: it still passes."
    failed = len(check.problems)
    checks = f"{failed} check{'' if failed == 1 else 's'} failed"
    if check.reason == PublishCheck.PUBLISH:
        return f"Not published: {checks}."
    return f"Its reference check failed: {checks}."


@login_required
@require_POST
def publish_exercise(request: LearnerRequest, exercise_id: int) -> HttpResponse:
    """Start the publish check: the reference solution runs on the real pipeline, and the
    worker publishes the exercise if it passes, whether or not this page stays open. On a
    published exercise it checks it again."""
    exercise = _get_exercise_for_instructor(request, exercise_id)
    reason = PublishCheck.PUBLISH if exercise.status == Exercise.DRAFT else PublishCheck.RECHECK
    check = publishing.start_check(exercise, request.user, reason)
    if request.htmx:
        return _publish_panel(request, exercise, check_announcement(check), check=check)
    return redirect("ls-teach-publish-status", exercise.pk, check.pk)


@login_required
@require_safe
def publish_status(request: LearnerRequest, exercise_id: int, check_id: int) -> HttpResponse:
    """The publish check while the reference runs, then its result; htmx polls it."""
    exercise = _get_exercise_for_instructor(request, exercise_id)
    check = get_object_or_404(exercise.publish_checks, pk=check_id)
    # A poll says what it showed: only news is announced (the decision, or the wait).
    news = check.is_final or (check.waiting_for_a_worker and request.GET.get("shown") != "waiting")
    announce = check_announcement(check) if news else ""
    return _publish_panel(request, exercise, announce, check=check, just_decided=check.is_final)


@login_required
@require_POST
def unpublish_exercise(request: LearnerRequest, exercise_id: int) -> HttpResponse:
    """Back to draft: learners no longer see the exercise."""
    exercise = _get_exercise_for_instructor(request, exercise_id)
    exercise.status = Exercise.DRAFT
    exercise.save(update_fields=["status"])
    return _publish_panel(request, exercise, "Unpublished: learners no longer see it.")


# ---------------------------------------------------------------------------------------------
# Regrade


def _regrade_panel(request: LearnerRequest, exercise: Exercise, **context) -> HttpResponse:
    if request.htmx:
        return render(
            request, "lessons/teach/rubric.html#regrade", {"exercise": exercise, **context}
        )
    full = _rubric_context(exercise, request, **context)
    return render(request, "lessons/teach/rubric.html", full)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def regrade_exercise(request: LearnerRequest, exercise_id: int) -> HttpResponse:
    """GET: say how many attempts and judge calls a regrade takes, with the button to start it.
    POST: queue it, unless its judge calls would go over the instructor's budget."""
    exercise = _get_exercise_for_instructor(request, exercise_id)
    if request.method != "POST":
        now = timezone.now()
        return _regrade_panel(
            request,
            exercise,
            confirm=True,
            regrade_count=regrading.attempts_to_regrade(exercise, now).count(),
            judge_calls=regrading.judge_calls_at_most(exercise, now),
        )
    refused = regrading.refusal(exercise, request.user)
    if refused:
        return _regrade_panel(request, exercise, refused=refused)
    try:
        regrade = regrading.start(exercise, request.user, publish=regrade_task.delay)
    except regrading.RegradeUnderWay as e:
        return _regrade_panel(request, exercise, refused=str(e), regrade=exercise.regrades.first())
    if request.htmx:
        return _regrade_panel(request, exercise, regrade=regrade)
    return redirect(reverse("ls-teach-rubric", args=[exercise.pk]) + "#regrade")


@login_required
@require_safe
def regrade_status(request: LearnerRequest, exercise_id: int, regrade_id: int) -> HttpResponse:
    """The regrade's progress; htmx polls it and stops once it is done."""
    exercise = _get_exercise_for_instructor(request, exercise_id)
    regrade = get_object_or_404(exercise.regrades, pk=regrade_id)
    context = {"regrade": regrade, "exercise": exercise}
    if request.htmx:
        response = render(request, "lessons/teach/rubric.html#regrade", context)
        if regrade.is_final:
            return HttpResponseStopPolling(response.content)
        return response
    return redirect(reverse("ls-teach-rubric", args=[exercise.pk]) + "#regrade")


# ---------------------------------------------------------------------------------------------
# Judge calibration


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def calibrate_judge(request: LearnerRequest, exercise_id: int) -> HttpResponse:
    """GET: each judge criterion's calibrations, newest first, and the button to run one
    (htmx polls the panel while one runs). POST: start one per judge criterion, in the
    worker, unless the instructor is over their budget or one is under way."""
    exercise = _get_exercise_for_instructor(request, exercise_id)
    refused = ""
    running = calibrating.running(exercise)
    if request.method == "POST":
        refused = calibrating.refusal(running, request.user)
        if not refused:
            try:
                running = calibrating.start(exercise, request.user, publish=calibrate_task.delay)
            except calibrating.CalibrationError as e:
                refused = str(e)
        if not refused and not request.htmx:
            return redirect("ls-teach-calibration", exercise.pk)
    context = {
        "reports": calibrating.report(exercise),
        "running": running,
        "refused": refused,
        "judge_calls": 0 if running else calibrating.judge_calls_at_most(exercise),
    }
    if request.htmx:
        has_judge = bool(calibrating.judges(exercise))  # the page has it from _exercise_context
        response = render(
            request,
            "lessons/teach/calibration.html#panel",
            {"exercise": exercise, "has_judge": has_judge, **context},
        )
        if request.method != "POST" and not running:
            return HttpResponseStopPolling(response.content)
        return response
    full = _exercise_context(exercise, tab="calibration", **context)
    return render(request, "lessons/teach/calibration.html", full, status=422 if refused else 200)


# ---------------------------------------------------------------------------------------------
# Exercise health


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def course_health(request: LearnerRequest, course_slug: str) -> HttpResponse:
    """GET: the course's latest health check, its progress while it runs (htmx polls the
    panel), and the button to run one. POST: start one in the worker, unless one is under way
    or the instructor is over their budget."""
    course = _get_course_for_instructor(request, course_slug)
    refused = ""
    if request.method == "POST":
        refused = health.refusal(course, request.user)
        if not refused:
            health.start(course, request.user, publish=health_task.delay)
            if not request.htmx:
                return redirect("ls-teach-health", course.slug)
    job = health.latest(course)
    context = {
        "course": course,
        "job": job,
        "refused": refused,
        "exercise_count": health.published(course).count(),
    }
    status = 422 if refused else 200
    if not request.htmx:
        return render(request, "lessons/teach/health.html", context, status=status)
    response = render(request, "lessons/teach/health.html#panel", context, status=status)
    if request.method != "POST" and (job is None or job.is_final):
        return HttpResponseStopPolling(response.content)
    return response
