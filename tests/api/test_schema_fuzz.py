"""Schemathesis fuzzes every operation of the generated schema in-process: no answer may be a 5xx."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from rest_framework.authtoken.models import Token
from rest_framework.throttling import UserRateThrottle

from annotation.models import Project
from tests.factories import make_comparison

pytestmark = pytest.mark.django_db

EXAMPLES_PER_OPERATION = 12


@pytest.fixture
def wsgi_app() -> Iterator[WSGIHandler]:
    """The real WSGI handler, kept from closing the test's database connection after each request
    (as Django's own test client does), so requests see the test's rows."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield WSGIHandler()
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def test_no_operation_answers_with_a_server_error(
    alice, project: Project, wsgi_app: WSGIHandler, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(UserRateThrottle, "rate", "100000/min", raising=False)
    make_comparison(project=project)
    headers = {"Authorization": f"Token {Token.objects.create(user=alice).key}"}
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", wsgi_app, headers=headers)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 25
    failures: list[str] = []
    statuses: list[int] = []

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case: schemathesis.Case) -> None:
            if "slug" in (case.path_parameters or {}):
                # A real project, so the fuzzed values reach the doors past the membership check.
                case.path_parameters["slug"] = project.slug
            response = case.call(headers=headers)
            statuses.append(response.status_code)
            if response.status_code >= 500:
                failures.append(
                    f"{case.method} {case.formatted_path} -> {response.status_code}: {case.as_curl_command()}"
                )

        fuzz()
    assert not failures, "\n".join(failures[:20])
    assert len(statuses) >= 5 * len(operations) and statuses.count(200) >= 10, "the fuzz reached the doors"
