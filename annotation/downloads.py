"""HTTP downloads that the pages and the API both answer with."""

from __future__ import annotations

from django.http import StreamingHttpResponse

from annotation.services.exporting import CONTENT_TYPES


def export_response(*, project_slug: str, chunks, kind: str, file_format: str) -> StreamingHttpResponse:
    """A streamed download of export chunks, named after the project and kind."""
    response = StreamingHttpResponse(chunks, content_type=CONTENT_TYPES[file_format])
    response["Content-Disposition"] = f'attachment; filename="{project_slug}-{kind}.{file_format}"'
    response["Cache-Control"] = "no-store"
    return response
