"""Pages raise RankwiseError from services and permission checks; this turns it into a response.
InputGuardMiddleware refuses, at the door, input that no page or API view may see.

A lost database connection becomes a plain-text 503: the error page's layout reads the session
and the user, which needs the very database that is gone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from rest_framework.views import APIView

from rankwise.api.errors import error_body
from rankwise.errors import DATABASE_UNAVAILABLE, RankwiseError, value_refused
from rankwise.inputs import refused, text_problems

logger = logging.getLogger(__name__)

# Everything under it answers JSON (rankwise/urls.py); every other path is a page.
API_PREFIX = "/api/"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


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
        if (refusal := value_refused(exception)) is not None:
            logger.warning("a value reached the database and was refused there: %s", exception)
            exception = refusal
        if not isinstance(exception, RankwiseError):
            return None
        return render(request, "error.html", {"error": exception}, status=exception.status_code)


class InputGuardMiddleware:
    """Refuses (400, naming the parameter) a NUL character in the path, a query parameter or a
    cookie, and in the form fields a page receives: PostgreSQL refuses NUL in text, so a filter,
    a username in the path or a session cookie holding one would otherwise be a 500 wherever it
    reaches a query. Query parameters and page form fields may not be whole numbers past signed
    64 bits either (no column holds one). API bodies are checked by the API's parsers
    (rankwise.api.parsers).

    It comes before the session middleware: a session cookie holding NUL must not reach the
    session store, and the error page it renders reads no session."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        problems = text_problems(
            [("path", request.path_info), *((f"cookie {n}", v) for n, v in request.COOKIES.items())]
        ) + text_problems(
            ((name, value) for name, values in request.GET.lists() for value in values), numerals=True
        )
        if problems:
            return _refusal(request, refused(problems))
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view: Callable[..., Any], args: Any, kwargs: Any
    ) -> HttpResponse | None:
        view_class = getattr(view, "cls", None)  # DRF's as_view() sets it
        if (isinstance(view_class, type) and issubclass(view_class, APIView)) or (
            request.content_type not in FORM_TYPES
        ):
            # API views parse their own bodies, with the checking parsers.
            return None
        problems = text_problems(
            ((name, value) for name, values in request.POST.lists() for value in values), numerals=True
        )
        return _refusal(request, refused(problems)) if problems else None


def _refusal(request: HttpRequest, error: RankwiseError) -> HttpResponse:
    if request.path_info.startswith(API_PREFIX):
        return JsonResponse(error_body(error), status=error.status_code)
    return render(request, "error.html", {"error": error}, status=error.status_code)
