"""OpenAPI descriptions of the plain APIViews, kept here so the views themselves stay untouched.

drf-spectacular cannot guess the bodies of APIViews that build their responses by hand; each
OpenApiViewExtension below wraps one view with extend_schema. Imported once by rankwise/urls.py.
"""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiViewExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import serializers

from annotation.api.annotating import AnswerSerializer, AssignmentSkipApi, JudgmentSubmitApi
from annotation.api.imports import ImportCreateApi
from annotation.api.quality import ProjectQualityApi
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


class ErrorSerializer(serializers.Serializer):
    """The body of every 4xx answer and of the 503 while the database is down (rankwise/api/errors.py)."""

    error = serializers.CharField()
    details = serializers.ListField(child=serializers.DictField())


ERRORS = {
    400: ErrorSerializer,
    403: ErrorSerializer,
    404: ErrorSerializer,
    409: ErrorSerializer,
    503: ErrorSerializer,
}
_OBJECT = OpenApiResponse(OpenApiTypes.OBJECT)


def _named(name: str, serializer: type[serializers.Serializer]) -> type[serializers.Serializer]:
    """The serializer under a unique component name (nested ones are all called InputSerializer)."""
    return type(name, (serializer,), {})


def _ok(response: object = _OBJECT, status: int = 200) -> dict:
    return {status: response, **ERRORS}


_batch = _named("ImportBatch", ImportCreateApi.OutputSerializer)

_VIEWS: dict[str, dict] = {
    "annotation.api.imports.ImportCreateApi": {
        "post": extend_schema(
            request={"multipart/form-data": _named("ImportCreate", ImportCreateApi.InputSerializer)},
            responses={200: _batch, 201: _batch, **ERRORS},
            description="Upload a JSONL file (project admins). 200 when the same file was imported before.",
        )
    },
    "annotation.api.export.ProjectExportApi": {
        "get": extend_schema(
            parameters=[
                OpenApiParameter(
                    "kind", str, description="preferences, sft, reward, ... (docs/exporting.md)"
                ),
                OpenApiParameter("format", str, description="jsonl or parquet"),
            ],
            responses={(200, "application/octet-stream"): OpenApiTypes.BINARY, **ERRORS},
            description="A streamed JSONL or Parquet file of the project's data (project admins).",
        )
    },
    "annotation.api.annotating.ItemNextApi": {
        "post": extend_schema(request=None, responses=_ok(), description="My current item, or a new lease.")
    },
    "annotation.api.annotating.JudgmentSubmitApi": {
        "post": extend_schema(
            request=_named("JudgmentSubmit", JudgmentSubmitApi.InputSerializer),
            responses=_ok(status=201),
            description="Record my answer once per submission token; with next: true the answer also"
            " carries my next item and counts, as next/ gives them.",
        )
    },
    "annotation.api.annotating.AssignmentSkipApi": {
        "post": extend_schema(
            request=_named("AssignmentSkip", AssignmentSkipApi.InputSerializer), responses=_ok()
        )
    },
    "annotation.api.annotating.JudgmentDetailApi": {
        "get": extend_schema(responses=_ok()),
        "patch": extend_schema(request=AnswerSerializer, responses=_ok()),
    },
    "annotation.api.quality.ProjectQualityApi": {
        "get": extend_schema(parameters=[ProjectQualityApi.InputSerializer], responses=_ok())
    },
    "training.api.snapshots.SnapshotListApi": {
        "get": extend_schema(responses=_ok(SnapshotOutput(many=True))),
        "post": extend_schema(
            request=_named("SnapshotCreate", SnapshotInput), responses=_ok(SnapshotOutput, 201)
        ),
    },
    "training.api.runs.RunListApi": {
        "get": extend_schema(
            parameters=[OpenApiParameter("status", str), OpenApiParameter("method", str)],
            responses=_ok(RunOutput(many=True)),
        ),
        "post": extend_schema(request=RunLaunchInput, responses=_ok(RunOutput, 201)),
    },
    "training.api.runs.RunPreviewApi": {"post": extend_schema(request=RunLaunchInput, responses=_ok())},
    "training.api.runs.RunDetailApi": {
        "get": extend_schema(operation_id="projects_run_detail", responses=_ok())
    },
    "training.api.metrics.RunMetricsApi": {
        "get": extend_schema(parameters=[OpenApiParameter("after", int)], responses=_ok())
    },
    "training.api.runs.RunCancelApi": {"post": extend_schema(request=None, responses=_ok(RunOutput))},
    "training.api.runs.RunRetryApi": {"post": extend_schema(request=None, responses=_ok(RunOutput))},
    "training.api.runs.ModelVersionListApi": {
        "get": extend_schema(responses=_ok(ModelVersionOutput(many=True)))
    },
    "training.api.generation.GenerationListApi": {
        "get": extend_schema(
            operation_id="projects_generations_list", responses=_ok(GenerationJobOutput(many=True))
        ),
        "post": extend_schema(request=GenerationLaunchInput, responses=_ok(GenerationJobOutput, 201)),
    },
    "training.api.generation.GenerationDetailApi": {"get": extend_schema(responses=_ok(GenerationJobOutput))},
    "training.api.generation.GenerationCancelApi": {
        "post": extend_schema(request=None, responses=_ok(GenerationJobOutput))
    },
    "training.api.rounds.RoundListApi": {
        "get": extend_schema(
            operation_id="projects_rounds_list",
            responses=_ok(),
            description="Per round: counts, progress, agreement, snapshots, runs, model versions, arenas.",
        )
    },
    "training.api.arenas.ArenaListApi": {
        "get": extend_schema(operation_id="projects_arenas_list", responses=_ok(ArenaOutput(many=True))),
        "post": extend_schema(request=ArenaLaunchInput, responses=_ok(ArenaOutput, 201)),
    },
    "training.api.arenas.ArenaDetailApi": {"get": extend_schema(responses=_ok(ArenaDetailOutput))},
    "training.api.scoring.ScoringListApi": {
        "get": extend_schema(
            operation_id="projects_scorings_list", responses=_ok(ScoringJobOutput(many=True))
        ),
        "post": extend_schema(request=ScoringLaunchInput, responses=_ok(ScoringJobOutput, 201)),
    },
    "training.api.scoring.ScoringDetailApi": {"get": extend_schema(responses=_ok(ScoringJobOutput))},
    "training.api.scoring.ScoringCancelApi": {
        "post": extend_schema(request=None, responses=_ok(ScoringJobOutput))
    },
    "training.api.scoring.ScoreReportApi": {
        "get": extend_schema(
            parameters=[ScoreReportInput],
            responses=_ok(ScoreReportOutput),
            description="A reward model version's scores beside the human judgments (project admins).",
        )
    },
    "training.api.runs.MethodDefaultsApi": {"get": extend_schema(responses=_ok())},
}


def _extension(target: str, schemas: dict) -> type[OpenApiViewExtension]:
    def view_replacement(self: OpenApiViewExtension) -> type:
        return extend_schema_view(**schemas)(type(self.target.__name__, (self.target,), {}))

    name = target.rsplit(".", 1)[1] + "Schema"
    return type(name, (OpenApiViewExtension,), {"target_class": target, "view_replacement": view_replacement})


EXTENSIONS = [_extension(target, schemas) for target, schemas in _VIEWS.items()]
