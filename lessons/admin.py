"""The Django admin. Its edits of exercises and test cases go through the same rule as the
instructor's editors: publishing.recheck_if_changed after saving, in the same transaction
(the admin's change and delete views are atomic), so a published exercise edited here is
checked again too."""

from __future__ import annotations

from django.contrib import admin
from django.db import transaction

from lessons.authoring import publishing
from lessons.models import Case, Course, Exercise, Lesson, Regrade
from lessons.review import cohorts as joining


class CaseInline(admin.StackedInline):
    """Test cases in the exercise's form: ExerciseAdmin.save_related rechecks after the cases
    (added, changed or deleted) are saved."""

    model = Case
    extra = 0


@admin.register(Course)
class CourseAdmin(admin.ModelAdmin):
    list_display = ("title", "slug", "position")
    prepopulated_fields = {"slug": ("title",)}

    def save_related(self, request, form, formsets, change):
        """Save the instructors, then take them out of the course's cohorts."""
        super().save_related(request, form, formsets, change)
        joining.drop_instructors(form.instance)


@admin.register(Lesson)
class LessonAdmin(admin.ModelAdmin):
    list_display = ("title", "course", "position")
    list_filter = ("course",)


@admin.register(Exercise)
class ExerciseAdmin(admin.ModelAdmin):
    list_display = ("title", "lesson", "backend", "model_name", "position", "status")
    list_filter = ("lesson__course", "backend")
    inlines = [CaseInline]
    # Publishing is the publish check's (the exercise's Publish on /teach/): the admin shows
    # the status, and writing back the one it read would undo a check or an Unpublish since.
    readonly_fields = ("status",)

    def save_related(self, request, form, formsets, change):
        """Save the inline test cases, then check the exercise again if it is published and
        the exercise or its cases changed (save_model ran before: one check for both)."""
        super().save_related(request, form, formsets, change)
        publishing.recheck_if_changed(form.instance, request.user)


@admin.register(Case)
class CaseAdmin(admin.ModelAdmin):
    list_display = ("name", "exercise", "visibility", "weight")

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        moved_from = form.initial.get("exercise") if change else None
        if moved_from and moved_from != obj.exercise_id:
            exercise = Exercise.objects.filter(pk=moved_from).first()
            if exercise:
                publishing.recheck_if_changed(exercise, request.user)
        publishing.recheck_if_changed(obj.exercise, request.user)

    def delete_model(self, request, obj):
        exercise = obj.exercise
        super().delete_model(request, obj)
        publishing.recheck_if_changed(exercise, request.user)

    def delete_queryset(self, request, queryset):
        """The list's "delete selected" action: its view is not atomic, so this is."""
        with transaction.atomic():
            exercises = list(Exercise.objects.filter(cases__in=queryset).distinct())
            super().delete_queryset(request, queryset)
            for exercise in exercises:
                publishing.recheck_if_changed(exercise, request.user)


@admin.register(Regrade)
class RegradeAdmin(admin.ModelAdmin):
    list_display = ("exercise", "status", "done", "total", "changed", "requested_by", "created_at")
    list_filter = ("status",)
    raw_id_fields = ("exercise", "requested_by")
