"""Django admin registrations: a fallback view of the data for superusers."""

from django.contrib import admin

from annotation import models


class MembershipInline(admin.TabularInline):
    model = models.Membership
    extra = 1


@admin.register(models.Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "mode", "overlap", "created_at")
    prepopulated_fields = {"slug": ("name",)}
    inlines = [MembershipInline]


@admin.register(models.Prompt)
class PromptAdmin(admin.ModelAdmin):
    list_display = ("id", "project", "external_id", "created_at")
    list_filter = ("project",)


@admin.register(models.Candidate)
class CandidateAdmin(admin.ModelAdmin):
    list_display = ("id", "prompt", "model_name", "created_at")
    raw_id_fields = ("prompt",)


@admin.register(models.Comparison)
class ComparisonAdmin(admin.ModelAdmin):
    list_display = ("id", "project", "prompt", "priority", "judgment_count")
    list_filter = ("project",)
    raw_id_fields = ("prompt",)


@admin.register(models.Judgment)
class JudgmentAdmin(admin.ModelAdmin):
    list_display = ("id", "comparison", "annotator", "source", "strength", "created_at")
    raw_id_fields = ("comparison", "assignment")


@admin.register(models.Review)
class ReviewAdmin(admin.ModelAdmin):
    list_display = ("id", "comparison", "reviewer", "decision", "created_at")
    list_filter = ("decision",)
    raw_id_fields = ("comparison",)


admin.site.register(models.Assignment)
admin.site.register(models.Demonstration)
admin.site.register(models.ImportBatch)
