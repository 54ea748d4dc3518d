"""The DRF exception handler: RankwiseError becomes a consistent JSON error body."""

from __future__ import annotations

from typing import Any

from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from annotation.errors import RankwiseError


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, RankwiseError):
        return Response({"error": exc.message, "details": exc.details}, status=exc.status_code)
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(response.data, dict) and "error" not in response.data:
        detail = response.data.get("detail")
        response.data = {
            "error": str(detail) if detail is not None else "Invalid request.",
            "details": [] if detail is not None else [response.data],
        }
    return response
