"""OpenAPI descriptions of the training app's plain APIViews (rankwise.api.schema says why)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema

from rankwise.api.schema import named, ok, view_extensions
from training.api.arenas import ArenaDetailOutput, ArenaOutput
from training.api.generation import GenerationJobOutput
from training.api.runs import ModelVersionOutput
from training.api.scoring import ScoreReportOutput, ScoringJobOutput
from training.api.snapshots import SnapshotOutput
from training.serializers import (
    ArenaLaunchInput,
    GenerationLaunchInput,
    RunLaunchInput,
    RunOutput,
    ScoreReportInput,
    ScoringLaunchInput,
    SnapshotInput,
)

VIEWS: dict[str, dict] = {
    "training.api.snapshots.SnapshotListApi": {
        "get": extend_schema(responses=ok(SnapshotOutput(many=True))),
        "post": extend_schema(
            request=named("SnapshotCreate", SnapshotInput), responses=ok(SnapshotOutput, 201)
        ),
    },
    "training.api.snapshots.SnapshotRetryApi": {
        "post": extend_schema(request=None, responses=ok(SnapshotOutput))
    },
    "training.api.runs.RunListApi": {
        "get": extend_schema(
            parameters=[OpenApiParameter("status", str), OpenApiParameter("method", str)],
            responses=ok(RunOutput(many=True)),
        ),
        "post": extend_schema(request=RunLaunchInput, responses=ok(RunOutput, 201)),
    },
    "training.api.runs.RunPreviewApi": {"post": extend_schema(request=RunLaunchInput, responses=ok())},
    "training.api.runs.RunDetailApi": {
        "get": extend_schema(operation_id="projects_run_detail", responses=ok())
    },
    "training.api.metrics.RunMetricsApi": {
        "get": extend_schema(parameters=[OpenApiParameter("after", int)], responses=ok())
    },
    "training.api.runs.RunCancelApi": {"post": extend_schema(request=None, responses=ok(RunOutput))},
    "training.api.runs.RunRetryApi": {"post": extend_schema(request=None, responses=ok(RunOutput))},
    "training.api.runs.ModelVersionListApi": {
        "get": extend_schema(responses=ok(ModelVersionOutput(many=True)))
    },
    "training.api.generation.GenerationListApi": {
        "get": extend_schema(
            operation_id="projects_generations_list", responses=ok(GenerationJobOutput(many=True))
        ),
        "post": extend_schema(request=GenerationLaunchInput, responses=ok(GenerationJobOutput, 201)),
    },
    "training.api.generation.GenerationDetailApi": {"get": extend_schema(responses=ok(GenerationJobOutput))},
    "training.api.generation.GenerationCancelApi": {
        "post": extend_schema(request=None, responses=ok(GenerationJobOutput))
    },
    "training.api.rounds.RoundListApi": {
        "get": extend_schema(
            operation_id="projects_rounds_list",
            responses=ok(),
            description="Per round: counts, progress, agreement, snapshots, runs, model versions, arenas.",
        )
    },
    "training.api.arenas.ArenaListApi": {
        "get": extend_schema(operation_id="projects_arenas_list", responses=ok(ArenaOutput(many=True))),
        "post": extend_schema(request=ArenaLaunchInput, responses=ok(ArenaOutput, 201)),
    },
    "training.api.arenas.ArenaDetailApi": {"get": extend_schema(responses=ok(ArenaDetailOutput))},
    "training.api.scoring.ScoringListApi": {
        "get": extend_schema(
            operation_id="projects_scorings_list", responses=ok(ScoringJobOutput(many=True))
        ),
        "post": extend_schema(request=ScoringLaunchInput, responses=ok(ScoringJobOutput, 201)),
    },
    "training.api.scoring.ScoringDetailApi": {"get": extend_schema(responses=ok(ScoringJobOutput))},
    "training.api.scoring.ScoringCancelApi": {
        "post": extend_schema(request=None, responses=ok(ScoringJobOutput))
    },
    "training.api.scoring.ScoreReportApi": {
        "get": extend_schema(
            parameters=[ScoreReportInput],
            responses=ok(ScoreReportOutput),
            description="A reward model version's scores beside the human judgments (project admins).",
        )
    },
    "training.api.runs.MethodDefaultsApi": {"get": extend_schema(responses=ok())},
}

EXTENSIONS = view_extensions(VIEWS)
