"""Pages raise RankwiseError from services and permission checks; this turns it into a response.

A lost database connection becomes a plain-text 503: the error page's layout reads the session
and the user, which needs the very database that is gone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from rankwise.errors import DATABASE_UNAVAILABLE, RankwiseError

logger = logging.getLogger(__name__)


class RankwiseErrorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, OperationalError | InterfaceError):
            logger.warning("database unavailable: %s", exception)
            return HttpResponse(
                DATABASE_UNAVAILABLE,
                status=503,
                content_type="text/plain; charset=utf-8",
                headers={"Retry-After": "5"},
            )
        if not isinstance(exception, RankwiseError):
            return None
        return render(request, "error.html", {"error": exception}, status=exception.status_code)
