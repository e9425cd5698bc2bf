from __future__ import annotations

from django.contrib import admin

from sandbox.models import Attempt, Run, UsageRecord


class RunInline(admin.TabularInline):
    model = Run
    extra = 0
    fields = ("position", "case_name", "score", "passed", "latency_ms", "error")
    readonly_fields = fields
    can_delete = False


@admin.register(Attempt)
class AttemptAdmin(admin.ModelAdmin):
    list_display = ("id", "learner", "exercise", "status", "score", "passed", "created_at")
    list_filter = ("status", "passed")
    search_fields = ("learner__username", "exercise__title")
    raw_id_fields = ("learner", "exercise")
    inlines = [RunInline]


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    list_display = ("attempt", "case_name", "score", "passed", "latency_ms")
    raw_id_fields = ("attempt", "case")


@admin.register(UsageRecord)
class UsageRecordAdmin(admin.ModelAdmin):
    list_display = ("learner", "backend", "model", "input_tokens", "output_tokens", "cost_usd")
    list_filter = ("backend", "cache_hit")
    raw_id_fields = ("learner", "attempt")
