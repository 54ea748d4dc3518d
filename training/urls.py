"""Training pages, under /projects/<slug>/."""

from django.urls import path

from training.views.arenas import arena_detail_page, arena_list_page
from training.views.generation import generation_cancel_page, generation_detail_page, generation_list_page
from training.views.rounds import round_list_page
from training.views.runs import (
    artifact_download_page,
    model_download_page,
    run_cancel_page,
    run_compare_page,
    run_detail_page,
    run_launch_page,
    run_list_page,
    run_retry_page,
)
from training.views.scoring import score_list_page, scoring_cancel_page
from training.views.snapshots import snapshot_list_page, snapshot_retry_page

app_name = "training"

urlpatterns = [
    path("projects/<slug:slug>/snapshots/", snapshot_list_page, name="snapshots"),
    path(
        "projects/<slug:slug>/snapshots/<int:snapshot_id>/retry/", snapshot_retry_page, name="snapshot-retry"
    ),
    path("projects/<slug:slug>/runs/", run_list_page, name="runs"),
    path("projects/<slug:slug>/runs/new/", run_launch_page, name="run-launch"),
    path("projects/<slug:slug>/runs/compare/", run_compare_page, name="run-compare"),
    path("projects/<slug:slug>/runs/<int:run_id>/", run_detail_page, name="run-detail"),
    path("projects/<slug:slug>/runs/<int:run_id>/cancel/", run_cancel_page, name="run-cancel"),
    path("projects/<slug:slug>/runs/<int:run_id>/retry/", run_retry_page, name="run-retry"),
    path("projects/<slug:slug>/runs/<int:run_id>/model.zip", model_download_page, name="model-download"),
    path("projects/<slug:slug>/generations/", generation_list_page, name="generations"),
    path(
        "projects/<slug:slug>/generations/<int:job_id>/",
        generation_detail_page,
        name="generation-detail",
    ),
    path(
        "projects/<slug:slug>/generations/<int:job_id>/cancel/",
        generation_cancel_page,
        name="generation-cancel",
    ),
    path("projects/<slug:slug>/rounds/", round_list_page, name="rounds"),
    path("projects/<slug:slug>/arenas/", arena_list_page, name="arenas"),
    path("projects/<slug:slug>/arenas/<int:arena_id>/", arena_detail_page, name="arena-detail"),
    path("projects/<slug:slug>/scores/", score_list_page, name="scores"),
    path(
        "projects/<slug:slug>/scores/jobs/<int:job_id>/cancel/",
        scoring_cancel_page,
        name="scoring-cancel",
    ),
    path(
        "projects/<slug:slug>/runs/<int:run_id>/artifacts/<int:artifact_id>/",
        artifact_download_page,
        name="artifact-download",
    ),
]
