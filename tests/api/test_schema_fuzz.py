"""Schemathesis fuzzes every operation of the generated schema in-process: no answer may be a 5xx,
neither to what the schema describes nor to hostile shapes of it (NUL in text, integers past 64
bits, nesting past the JSON parser's limit, thousands of levels deep)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy
from rest_framework.authtoken.models import Token
from rest_framework.throttling import UserRateThrottle
from schemathesis.schemas import APIOperation
from werkzeug.test import Client

from annotation.models import Project
from tests.factories import make_comparison

pytestmark = pytest.mark.django_db

EXAMPLES_PER_OPERATION = 12
# Each hostile example is one of HOSTILE_SHAPES applied to a generated case (about +50% run time).
HOSTILE_EXAMPLES_PER_OPERATION = 4
HOSTILE_SHAPES = ("nul", "huge", "deep")
HUGE = 2**64
DEEP_JSON = "[" * 5000 + "]" * 5000


@pytest.fixture
def wsgi_app() -> Iterator[WSGIHandler]:
    """The real WSGI handler, kept from closing the test's database connection after each request
    (as Django's own test client does), so requests see the test's rows."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield WSGIHandler()
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@dataclass
class Fuzz:
    operations: list[APIOperation]
    headers: dict[str, str]
    project: Project
    statuses: list[int]
    failures: list[str]

    def run(
        self,
        operation: APIOperation,
        strategy: SearchStrategy[Any],
        examples: int,
        prepare: Callable[[Any], schemathesis.Case],
    ) -> None:
        """Calls `operation` with `examples` cases drawn from `strategy`, each passed through
        `prepare` (a case, and whatever else the strategy draws → the case to send)."""

        @given(drawn=strategy)
        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(drawn: Any) -> None:
            case = prepare(drawn)
            if "slug" in (case.path_parameters or {}):
                # A real project, so the fuzzed values reach the doors past the membership check.
                case.path_parameters["slug"] = self.project.slug
            response = case.call(headers=self.headers)
            self.record(
                response.status_code, f"{case.method} {case.formatted_path}: {case.as_curl_command()}"
            )

        fuzz()

    def record(self, status: int, request: str) -> None:
        self.statuses.append(status)
        if status >= 500:
            self.failures.append(f"{status} {request}")


@pytest.fixture
def fuzz(alice, project: Project, wsgi_app: WSGIHandler, monkeypatch: pytest.MonkeyPatch) -> Fuzz:
    monkeypatch.setattr(UserRateThrottle, "rate", "100000/min", raising=False)
    make_comparison(project=project)
    headers = {"Authorization": f"Token {Token.objects.create(user=alice).key}"}
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", wsgi_app, headers=headers)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 25
    return Fuzz(operations=operations, headers=headers, project=project, statuses=[], failures=[])


def test_no_operation_answers_with_a_server_error(fuzz: Fuzz) -> None:
    for operation in fuzz.operations:
        fuzz.run(operation, operation.as_strategy(), EXAMPLES_PER_OPERATION, lambda case: case)
    assert not fuzz.failures, "\n".join(fuzz.failures[:20])
    assert len(fuzz.statuses) >= 5 * len(fuzz.operations) and fuzz.statuses.count(200) >= 10, (
        "the fuzz reached the doors"
    )


def _hostile(value: object, shape: str) -> object:
    """`value` with a NUL in every string ("nul") or every integer pushed past 64 bits ("huge")."""
    if isinstance(value, dict):
        return {key: _hostile(item, shape) for key, item in value.items()}
    if isinstance(value, list):
        return [_hostile(item, shape) for item in value]
    if shape == "nul" and isinstance(value, str):
        return value[:1] + "\x00" + value[1:]
    if shape == "huge" and isinstance(value, int) and not isinstance(value, bool):
        return value + HUGE if value >= 0 else value - HUGE
    return value


def _made_hostile(drawn: tuple[schemathesis.Case, str]) -> schemathesis.Case:
    case, shape = drawn
    if shape == "deep":
        # Past the parser's limit of 64 levels, yet shallow enough for json to parse.
        nested: object = []
        for _ in range(100):
            nested = [nested]
        if case.media_type == "application/json" and isinstance(case.body, dict) and case.body:
            case.body = {**case.body, next(iter(case.body)): nested}
        return case
    case.query = _hostile(case.query, shape)
    if isinstance(case.body, dict | list):
        case.body = _hostile(case.body, shape)
    if shape == "huge":
        # Integer path parameters: <int:...> takes any number of digits.
        case.path_parameters = _hostile(case.path_parameters, shape)
    return case


def _path(operation: APIOperation, project: Project, value: str) -> str:
    """The operation's path with the real project's slug and `value` for every other parameter."""
    return re.sub(r"\{(\w+)\}", lambda m: project.slug if m.group(1) == "slug" else value, operation.path)


def test_no_operation_answers_hostile_input_with_a_server_error(fuzz: Fuzz, wsgi_app: WSGIHandler) -> None:
    client = Client(wsgi_app)
    nul_queries: list[int] = []
    for operation in fuzz.operations:
        method = operation.method.upper()
        strategy = st.tuples(operation.as_strategy(), st.sampled_from(HOSTILE_SHAPES))
        fuzz.run(operation, strategy, HOSTILE_EXAMPLES_PER_OPERATION, _made_hostile)

        # Shapes the generated cases cannot carry: NUL in each query parameter and path parameter,
        # and a body nested thousands deep (json recurses once per level).
        path = _path(operation, fuzz.project, "1")
        for parameter in operation.query:
            response = client.open(f"{path}?{parameter.name}=a%00", method=method, headers=fuzz.headers)
            nul_queries.append(response.status_code)
            fuzz.record(response.status_code, f"{method} {path}?{parameter.name}=a%00")
        if any(p.name != "slug" for p in operation.path_parameters):
            nul_path = _path(operation, fuzz.project, "a%00")
            response = client.open(nul_path, method=method, headers=fuzz.headers)
            fuzz.record(response.status_code, f"{method} {nul_path}")
        if operation.body:
            response = client.open(
                path, method=method, data=DEEP_JSON, content_type="application/json", headers=fuzz.headers
            )
            fuzz.record(response.status_code, f"{method} {path} with JSON nested 5000 deep")
    assert not fuzz.failures, "\n".join(fuzz.failures[:20])
    assert nul_queries and set(nul_queries) == {400}, "a NUL in any query parameter is refused at the door"
    assert len(fuzz.statuses) >= HOSTILE_EXAMPLES_PER_OPERATION * len(fuzz.operations)
