"""The DRF exception handler: RankwiseError becomes a consistent JSON error body.

A lost database connection (a restart, a failover) is a 503 with Retry-After, not a 500: the
client may retry, and submissions carry a token, so a retry never records twice. A value the
database refuses to store (rankwise.errors.value_refused) is the request's fault: a 400.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import InterfaceError, OperationalError
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from rankwise.errors import DATABASE_UNAVAILABLE, RankwiseError, ValidationFailed, value_refused

logger = logging.getLogger(__name__)


def error_body(exc: RankwiseError) -> dict[str, Any]:
    """The API's one error shape."""
    return {"error": exc.message, "details": exc.details}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if (refusal := value_refused(exc)) is not None:
        logger.warning("a value reached the database and was refused there: %s", exc)
        exc = refusal
    if isinstance(exc, OperationalError | InterfaceError):
        logger.warning("database unavailable: %s", exc)
        return Response(
            {"error": DATABASE_UNAVAILABLE, "details": []}, status=503, headers={"Retry-After": "5"}
        )
    if isinstance(exc, RankwiseError):
        return Response(error_body(exc), status=exc.status_code)
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(response.data, dict) and "error" not in response.data:
        detail = response.data.get("detail")
        response.data = {
            "error": str(detail) if detail is not None else "Invalid request.",
            "details": [] if detail is not None else [response.data],
        }
    return response


def validated(serializer: serializers.Serializer) -> dict[str, Any]:
    """The serializer's validated data, or one ValidationFailed with a detail per field."""
    if serializer.is_valid():
        return dict(serializer.validated_data)
    details = [
        {
            "field": field,
            "reason": " ".join(str(m) for m in (messages if isinstance(messages, list) else [messages])),
        }
        for field, messages in serializer.errors.items()
    ]
    raise ValidationFailed(
        "Invalid input: " + "; ".join(f"{d['field']} {d['reason']}" for d in details), details=details
    )
