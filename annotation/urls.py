"""Annotation pages."""

from django.urls import path

from annotation.views import dashboard, home

urlpatterns = [
    path("", home.home, name="home"),
    path("projects/<slug:slug>/dashboard/", dashboard.project_dashboard, name="project-dashboard"),
]
