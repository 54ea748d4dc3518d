"""REST API routes of the annotation app, mounted under /api/."""

from django.urls import path

from annotation.api.export import ProjectExportApi

app_name = "api"

urlpatterns: list = [
    path("projects/<slug:slug>/export/", ProjectExportApi.as_view(), name="project-export"),
]
