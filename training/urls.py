"""Training pages, under /projects/<slug>/."""

from django.urls import path

from training import generation_views, round_views, scoring_views, views

app_name = "training"

urlpatterns = [
    path("projects/<slug:slug>/snapshots/", views.snapshot_list, name="snapshots"),
    path("projects/<slug:slug>/runs/", views.run_list, name="runs"),
    path("projects/<slug:slug>/runs/new/", views.run_launch, name="run-launch"),
    path("projects/<slug:slug>/runs/compare/", views.run_compare, name="run-compare"),
    path("projects/<slug:slug>/runs/<int:run_id>/", views.run_detail, name="run-detail"),
    path("projects/<slug:slug>/runs/<int:run_id>/cancel/", views.run_cancel, name="run-cancel"),
    path("projects/<slug:slug>/runs/<int:run_id>/retry/", views.run_retry, name="run-retry"),
    path("projects/<slug:slug>/runs/<int:run_id>/model.zip", views.model_download, name="model-download"),
    path("projects/<slug:slug>/generations/", generation_views.generation_list, name="generations"),
    path(
        "projects/<slug:slug>/generations/<int:job_id>/",
        generation_views.generation_detail,
        name="generation-detail",
    ),
    path(
        "projects/<slug:slug>/generations/<int:job_id>/cancel/",
        generation_views.generation_cancel,
        name="generation-cancel",
    ),
    path("projects/<slug:slug>/rounds/", round_views.round_list, name="rounds"),
    path("projects/<slug:slug>/arenas/", round_views.arena_list, name="arenas"),
    path("projects/<slug:slug>/arenas/<int:arena_id>/", round_views.arena_detail, name="arena-detail"),
    path("projects/<slug:slug>/scores/", scoring_views.score_list, name="scores"),
    path(
        "projects/<slug:slug>/scores/jobs/<int:job_id>/cancel/",
        scoring_views.scoring_cancel,
        name="scoring-cancel",
    ),
    path(
        "projects/<slug:slug>/runs/<int:run_id>/artifacts/<int:artifact_id>/",
        views.artifact_download,
        name="artifact-download",
    ),
]
