"""Django admin registrations: a read-only fallback view of snapshots, runs, arenas and scoring jobs for
superusers.

Everything is read-only here: snapshots are immutable and runs change only through the services
and the worker.
"""

from django.contrib import admin

from training import models


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(models.DatasetSnapshot)
class DatasetSnapshotAdmin(ReadOnlyAdmin):
    list_display = ("id", "name", "status", "train_rows", "eval_rows", "sft_rows", "sha256", "created_at")
    list_filter = ("status",)


@admin.register(models.Run)
class RunAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "project",
        "method",
        "round",
        "status",
        "step",
        "total_steps",
        "attempt",
        "created_at",
    )
    list_filter = ("status", "method", "project")


@admin.register(models.ModelVersion)
class ModelVersionAdmin(ReadOnlyAdmin):
    list_display = ("id", "name", "method", "is_reward_model", "base", "created_at")
    list_filter = ("method", "is_reward_model")


@admin.register(models.Arena)
class ArenaAdmin(ReadOnlyAdmin):
    list_display = ("id", "project", "name", "round", "status", "built_at", "created_at")


@admin.register(models.ScoringJob)
class ScoringJobAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "project",
        "model_version",
        "selection",
        "status",
        "candidates_scored",
        "created_at",
    )
    list_filter = ("status", "project")
