"""REST API routes of the annotation app, mounted under /api/."""

from django.urls import path

from annotation.api.export import ProjectExportApi
from annotation.api.quality import ProjectQualityApi

app_name = "api"

urlpatterns: list = [
    path("projects/<slug:slug>/export/", ProjectExportApi.as_view(), name="project-export"),
    path("projects/<slug:slug>/quality/", ProjectQualityApi.as_view(), name="project-quality"),
]
