"""The OpenAPI schema covers every API view without generator warnings, and the docs pages load."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.test import Client


def test_schema_generates_without_warnings(capsys: pytest.CaptureFixture[str], db: None) -> None:
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", "/dev/null")
    assert "Warning" not in capsys.readouterr().err


def test_schema_and_docs_pages_are_served(client: Client, alice) -> None:
    client.force_login(alice)
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "/api/projects/{slug}/imports/" in paths
    assert "/api/projects/{slug}/runs/{run_id}/" in paths
    docs = client.get("/api/docs/")
    assert docs.status_code == 200 and b"swagger-ui" in docs.content
    assert client.get("/api/redoc/").status_code == 200
