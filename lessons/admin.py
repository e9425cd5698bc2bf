from __future__ import annotations

from django.contrib import admin

from lessons.models import Case, Course, Exercise, Lesson, Regrade


class CaseInline(admin.StackedInline):
    model = Case
    extra = 0


@admin.register(Course)
class CourseAdmin(admin.ModelAdmin):
    list_display = ("title", "slug", "position")
    prepopulated_fields = {"slug": ("title",)}


@admin.register(Lesson)
class LessonAdmin(admin.ModelAdmin):
    list_display = ("title", "course", "position")
    list_filter = ("course",)


@admin.register(Exercise)
class ExerciseAdmin(admin.ModelAdmin):
    list_display = ("title", "lesson", "backend", "model_name", "position")
    list_filter = ("lesson__course", "backend")
    inlines = [CaseInline]


@admin.register(Case)
class CaseAdmin(admin.ModelAdmin):
    list_display = ("name", "exercise", "visibility", "weight")


@admin.register(Regrade)
class RegradeAdmin(admin.ModelAdmin):
    list_display = ("exercise", "status", "done", "total", "changed", "requested_by", "created_at")
    list_filter = ("status",)
    raw_id_fields = ("exercise", "requested_by")
