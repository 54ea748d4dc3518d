"""REST API routes of the annotation app, mounted under /api/."""

from django.urls import path

from annotation.api.imports import ImportCreateApi

app_name = "api"

urlpatterns: list = [
    path("projects/<slug:slug>/imports/", ImportCreateApi.as_view(), name="import-create"),
]
