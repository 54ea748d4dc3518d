"""Annotation pages."""

from django.urls import path

from annotation.views import dashboard, export, home

urlpatterns = [
    path("", home.home, name="home"),
    path("projects/<slug:slug>/export/", export.project_export, name="project-export"),
    path("projects/<slug:slug>/dashboard/", dashboard.project_dashboard, name="project-dashboard"),
]
