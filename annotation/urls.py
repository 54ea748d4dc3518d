"""Annotation pages."""

from django.urls import path

from annotation.views import annotating, dashboard, export, home

urlpatterns = [
    path("", home.home, name="home"),
    path("projects/<slug:slug>/annotate/", annotating.annotate, name="annotate"),
    path("projects/<slug:slug>/history/", annotating.history, name="history"),
    path("projects/<slug:slug>/judgments/<int:pk>/edit/", annotating.judgment_edit, name="judgment-edit"),
    path("projects/<slug:slug>/guidelines/", annotating.guidelines, name="guidelines"),
    path("projects/<slug:slug>/export/", export.project_export, name="project-export"),
    path("quality/", dashboard.quality_index, name="quality-index"),
    path("projects/<slug:slug>/dashboard/", dashboard.project_dashboard, name="project-dashboard"),
]
