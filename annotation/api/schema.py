"""OpenAPI descriptions of the annotation app's plain APIViews (rankwise.api.schema says why)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema

from annotation.api.annotating import AnswerSerializer, AssignmentSkipApi, JudgmentSubmitApi
from annotation.api.imports import ImportCreateApi
from annotation.api.quality import ProjectQualityApi
from rankwise.api.schema import ERRORS, named, ok, view_extensions

_batch = named("ImportBatch", ImportCreateApi.OutputSerializer)

VIEWS: dict[str, dict] = {
    "annotation.api.imports.ImportCreateApi": {
        "post": extend_schema(
            request={"multipart/form-data": named("ImportCreate", ImportCreateApi.InputSerializer)},
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
        "post": extend_schema(request=None, responses=ok(), description="My current item, or a new lease.")
    },
    "annotation.api.annotating.JudgmentSubmitApi": {
        "post": extend_schema(
            request=named("JudgmentSubmit", JudgmentSubmitApi.InputSerializer),
            responses=ok(status=201),
            description="Record my answer once per submission token; with next: true the answer also"
            " carries my next item and counts, as next/ gives them.",
        )
    },
    "annotation.api.annotating.AssignmentSkipApi": {
        "post": extend_schema(
            request=named("AssignmentSkip", AssignmentSkipApi.InputSerializer), responses=ok()
        )
    },
    "annotation.api.annotating.JudgmentDetailApi": {
        "get": extend_schema(responses=ok()),
        "patch": extend_schema(request=AnswerSerializer, responses=ok()),
    },
    "annotation.api.quality.ProjectQualityApi": {
        "get": extend_schema(parameters=[ProjectQualityApi.InputSerializer], responses=ok())
    },
}

EXTENSIONS = view_extensions(VIEWS)
