"""GET /api/projects/<slug>/export/: a project's data as a streamed JSONL or Parquet file."""

from __future__ import annotations

from django.http import StreamingHttpResponse
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request

from annotation.downloads import export_response
from annotation.models import Membership
from annotation.permissions import ProjectApi
from annotation.services.exporting import export_chunks, export_spec_parse


class _IgnoreFormatParameter(DefaultContentNegotiation):
    """?format= names the export's file format here, not a DRF renderer; errors are always JSON."""

    def select_renderer(self, request: Request, renderers: list, format_suffix: str | None = None) -> tuple:
        return renderers[0], renderers[0].media_type


class ProjectExportApi(ProjectApi):
    """Query parameters as in docs/exporting.md (kind, format, ties, from, annotator, ...); admins only."""

    project_role = Membership.Role.ADMIN

    renderer_classes = [JSONRenderer]
    content_negotiation_class = _IgnoreFormatParameter

    def get(self, request: Request, slug: str) -> StreamingHttpResponse:
        project = self.project
        spec = export_spec_parse(params=dict(request.query_params.lists()))
        chunks = export_chunks(projects=[project], spec=spec, actor=request.user)
        return export_response(project_slug=project.slug, chunks=chunks,
                               kind=spec.kind, file_format=spec.file_format)  # fmt: skip
