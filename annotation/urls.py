"""Annotation pages."""

from django.urls import path

from annotation.views import annotating, home

urlpatterns = [
    path("", home.home, name="home"),
    path("projects/<slug:slug>/annotate/", annotating.annotate, name="annotate"),
    path("projects/<slug:slug>/history/", annotating.history, name="history"),
    path("projects/<slug:slug>/judgments/<int:pk>/edit/", annotating.judgment_edit, name="judgment-edit"),
    path("projects/<slug:slug>/guidelines/", annotating.guidelines, name="guidelines"),
]
