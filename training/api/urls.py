"""REST API routes of the training app, mounted under /api/."""

from django.urls import path

import training.api.schema  # noqa: F401  (registers the OpenAPI descriptions of the plain APIViews)
from training.api.arenas import ArenaDetailApi, ArenaListApi
from training.api.generation import GenerationCancelApi, GenerationDetailApi, GenerationListApi
from training.api.metrics import RunMetricsApi
from training.api.rounds import RoundListApi
from training.api.runs import (
    MethodDefaultsApi,
    ModelVersionListApi,
    RunCancelApi,
    RunDetailApi,
    RunListApi,
    RunPreviewApi,
    RunRetryApi,
)
from training.api.scoring import ScoreReportApi, ScoringCancelApi, ScoringDetailApi, ScoringListApi
from training.api.snapshots import SnapshotListApi, SnapshotRetryApi

app_name = "training-api"

urlpatterns = [
    path("projects/<slug:slug>/snapshots/", SnapshotListApi.as_view(), name="snapshots"),
    path(
        "projects/<slug:slug>/snapshots/<int:snapshot_id>/retry/",
        SnapshotRetryApi.as_view(),
        name="snapshot-retry",
    ),
    path("projects/<slug:slug>/runs/", RunListApi.as_view(), name="runs"),
    path("projects/<slug:slug>/runs/preview/", RunPreviewApi.as_view(), name="run-preview"),
    path("projects/<slug:slug>/runs/<int:run_id>/", RunDetailApi.as_view(), name="run-detail"),
    path("projects/<slug:slug>/runs/<int:run_id>/metrics/", RunMetricsApi.as_view(), name="run-metrics"),
    path("projects/<slug:slug>/runs/<int:run_id>/cancel/", RunCancelApi.as_view(), name="run-cancel"),
    path("projects/<slug:slug>/runs/<int:run_id>/retry/", RunRetryApi.as_view(), name="run-retry"),
    path("projects/<slug:slug>/model-versions/", ModelVersionListApi.as_view(), name="model-versions"),
    path("projects/<slug:slug>/generations/", GenerationListApi.as_view(), name="generations"),
    path(
        "projects/<slug:slug>/generations/<int:job_id>/",
        GenerationDetailApi.as_view(),
        name="generation-detail",
    ),
    path(
        "projects/<slug:slug>/generations/<int:job_id>/cancel/",
        GenerationCancelApi.as_view(),
        name="generation-cancel",
    ),
    path("projects/<slug:slug>/rounds/", RoundListApi.as_view(), name="rounds"),
    path("projects/<slug:slug>/arenas/", ArenaListApi.as_view(), name="arenas"),
    path(
        "projects/<slug:slug>/arenas/<int:arena_id>/",
        ArenaDetailApi.as_view(),
        name="arena-detail",
    ),
    path("projects/<slug:slug>/scorings/", ScoringListApi.as_view(), name="scorings"),
    path(
        "projects/<slug:slug>/scorings/<int:job_id>/",
        ScoringDetailApi.as_view(),
        name="scoring-detail",
    ),
    path(
        "projects/<slug:slug>/scorings/<int:job_id>/cancel/",
        ScoringCancelApi.as_view(),
        name="scoring-cancel",
    ),
    path("projects/<slug:slug>/scores/", ScoreReportApi.as_view(), name="scores"),
    path("training/defaults/<str:method>/", MethodDefaultsApi.as_view(), name="method-defaults"),
]
