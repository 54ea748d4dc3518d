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


class StoredHtmlAdmin(admin.ModelAdmin):
    """The stored HTML (annotation.services.prerendering) is the renderer's alone: shown, never
    edited, and dropped when the text it renders changes, so that the background pass renders it
    again."""

    source: str
    stored: str

    def get_readonly_fields(self, request, obj=None):
        return (*super().get_readonly_fields(request, obj), self.stored)

    def save_model(self, request, obj, form, change) -> None:
        if self.source in form.changed_data:
            setattr(obj, self.stored, None)
        super().save_model(request, obj, form, change)


@admin.register(models.Prompt)
class PromptAdmin(StoredHtmlAdmin):
    list_display = ("id", "project", "external_id", "created_at")
    list_filter = ("project",)
    source, stored = "messages", "messages_html"


@admin.register(models.Candidate)
class CandidateAdmin(StoredHtmlAdmin):
    list_display = ("id", "prompt", "model_name", "created_at")
    raw_id_fields = ("prompt",)
    source, stored = "text", "html"


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
