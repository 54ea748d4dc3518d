"""REST API routes of the training app, mounted under /api/."""

from django.urls import path

from training import apis, generation_apis, round_apis, scoring_apis

app_name = "training-api"

urlpatterns = [
    path("projects/<slug:slug>/snapshots/", apis.SnapshotListApi.as_view(), name="snapshots"),
    path("projects/<slug:slug>/runs/", apis.RunListApi.as_view(), name="runs"),
    path("projects/<slug:slug>/runs/preview/", apis.RunPreviewApi.as_view(), name="run-preview"),
    path("projects/<slug:slug>/runs/<int:run_id>/", apis.RunDetailApi.as_view(), name="run-detail"),
    path("projects/<slug:slug>/runs/<int:run_id>/metrics/", apis.RunMetricsApi.as_view(), name="run-metrics"),
    path("projects/<slug:slug>/runs/<int:run_id>/cancel/", apis.RunCancelApi.as_view(), name="run-cancel"),
    path("projects/<slug:slug>/runs/<int:run_id>/retry/", apis.RunRetryApi.as_view(), name="run-retry"),
    path("projects/<slug:slug>/model-versions/", apis.ModelVersionListApi.as_view(), name="model-versions"),
    path(
        "projects/<slug:slug>/generations/", generation_apis.GenerationListApi.as_view(), name="generations"
    ),
    path(
        "projects/<slug:slug>/generations/<int:job_id>/",
        generation_apis.GenerationDetailApi.as_view(),
        name="generation-detail",
    ),
    path(
        "projects/<slug:slug>/generations/<int:job_id>/cancel/",
        generation_apis.GenerationCancelApi.as_view(),
        name="generation-cancel",
    ),
    path("projects/<slug:slug>/rounds/", round_apis.RoundListApi.as_view(), name="rounds"),
    path("projects/<slug:slug>/arenas/", round_apis.ArenaListApi.as_view(), name="arenas"),
    path(
        "projects/<slug:slug>/arenas/<int:arena_id>/",
        round_apis.ArenaDetailApi.as_view(),
        name="arena-detail",
    ),
    path("projects/<slug:slug>/scorings/", scoring_apis.ScoringListApi.as_view(), name="scorings"),
    path(
        "projects/<slug:slug>/scorings/<int:job_id>/",
        scoring_apis.ScoringDetailApi.as_view(),
        name="scoring-detail",
    ),
    path(
        "projects/<slug:slug>/scorings/<int:job_id>/cancel/",
        scoring_apis.ScoringCancelApi.as_view(),
        name="scoring-cancel",
    ),
    path("projects/<slug:slug>/scores/", scoring_apis.ScoreReportApi.as_view(), name="scores"),
    path("training/defaults/<str:method>/", apis.MethodDefaultsApi.as_view(), name="method-defaults"),
]
