"""Annotation pages."""

from django.urls import path

from annotation.views import annotating, audit, dashboard, export, home, imports, projects, review

urlpatterns = [
    path("", home.home, name="home"),
    path("projects/", projects.project_manage_list, name="project-manage-list"),
    path("projects/new/", projects.project_create_view, name="project-create"),
    path("projects/<slug:slug>/settings/", projects.project_settings, name="project-settings"),
    path("projects/<slug:slug>/members/", projects.project_member_save, name="project-member-save"),
    path(
        "projects/<slug:slug>/members/<int:user_id>/attributes/",
        projects.project_member_attributes,
        name="project-member-attributes",
    ),
    path(
        "projects/<slug:slug>/members/<int:user_id>/remove/",
        projects.project_member_remove,
        name="project-member-remove",
    ),
    path("projects/<slug:slug>/import/", imports.project_import, name="project-import"),
    path("projects/<slug:slug>/export/", export.project_export, name="project-export"),
    path("projects/<slug:slug>/audit/", audit.project_audit, name="project-audit"),
    path("projects/<slug:slug>/annotate/", annotating.annotate, name="annotate"),
    path("projects/<slug:slug>/history/", annotating.history, name="history"),
    path("projects/<slug:slug>/judgments/<int:pk>/edit/", annotating.judgment_edit, name="judgment-edit"),
    path("projects/<slug:slug>/guidelines/", annotating.guidelines, name="guidelines"),
    path("quality/", dashboard.quality_index, name="quality-index"),
    path("projects/<slug:slug>/dashboard/", dashboard.project_dashboard, name="project-dashboard"),
    path("projects/<slug:slug>/review/", review.review_queue, name="review"),
    path("projects/<slug:slug>/review/<int:comparison_id>/", review.review_decide, name="review-decide"),
]
