"""Imports fuzzed with generated malformed files, through the service, the upload API and the page.

Whatever the bytes, an import either succeeds with counts that match the rows it added, or is
refused with a 400 naming the problem and adds nothing: never a 500, never part of a file.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from typing import Any

import pytest
from django.contrib.auth.models import AbstractBaseUser
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from annotation.models import Candidate, Comparison, ImportBatch, Judgment, Project, Prompt
from annotation.services.importing import data_import
from rankwise.errors import ValidationFailed

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

VALID_ROWS: list[dict[str, Any]] = [
    {"prompt": "Name a prime.", "candidates": [{"text": "2"}, {"text": "Four."}, {"text": "Seven."}]},
    {"prompt": [{"role": "user", "content": "Hi"}], "candidates": [{"text": "Hello"}, {"text": "Hey"}]},
    {"prompt": "q", "chosen": "good", "rejected": "bad"},
    {"chosen": "\n\nHuman: a\n\nAssistant: b", "rejected": "\n\nHuman: a\n\nAssistant: c"},
]

# Any JSON value, including the ones PostgreSQL refuses in text and jsonb (NUL, lone surrogates).
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
nasty_text = st.sampled_from(
    ["", " ", "\x00", "a\x00b", "\ud800", "\udfff x", "\u202e", "x" * 5000, "é" * 10]
)


@st.composite
def mutated_row(draw: st.DrawFn) -> bytes:
    """A valid row with a key dropped, a value replaced, or a nasty string put in."""
    row = json.loads(json.dumps(draw(st.sampled_from(VALID_ROWS))))
    target: Any = row
    path = draw(st.lists(st.integers(0, 5), max_size=3))
    for step in path:  # walk down to a nested list or object
        children = list(target.values()) if isinstance(target, dict) else target
        containers = [c for c in children if isinstance(c, dict | list)]
        if not containers:
            break
        target = containers[step % len(containers)]
    keys = list(target) if isinstance(target, dict) else list(range(len(target)))
    if keys:
        key = keys[draw(st.integers(0, len(keys) - 1))]
        action = draw(st.sampled_from(["drop", "replace", "nasty"]))
        if action == "drop":
            del target[key]
        else:
            target[key] = draw(json_values if action == "replace" else nasty_text)
    return json.dumps(row, ensure_ascii=draw(st.booleans()), allow_nan=True).encode("utf-8", "surrogatepass")


raw_line = st.one_of(
    st.binary(max_size=40),
    st.text(max_size=40).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.sampled_from([b"{", b"[]", b"null", b"1e999", b'{"prompt": NaN}', b"[" * 3000 + b"]" * 3000]),
    st.builds(lambda v: json.dumps(v).encode(), json_values),
)


@st.composite
def valid_row(draw: st.DrawFn) -> bytes:
    row = json.loads(json.dumps(draw(st.sampled_from(VALID_ROWS))))
    tag = draw(st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=8))
    if isinstance(row.get("prompt"), str):
        row["prompt"] += f" {tag}"  # distinct files, so not every one is "already imported"
    elif "prompt" in row:
        row["prompt"][0]["content"] += f" {tag}"
    else:
        row = {key: value.replace("Human: a", f"Human: a {tag}") for key, value in row.items()}
    return json.dumps(row, ensure_ascii=draw(st.booleans())).encode()


@st.composite
def files(draw: st.DrawFn) -> bytes:
    """Valid lines with, half of the time, one bad line among them; sometimes cut short."""
    lines = draw(st.lists(valid_row(), min_size=1, max_size=4))
    if draw(st.booleans()):
        bad = draw(st.one_of(mutated_row(), raw_line))
        lines.insert(draw(st.integers(0, len(lines))), bad)
    body = draw(st.sampled_from([b"\n", b"\r\n"])).join(lines)
    if draw(st.booleans()):
        body = b"\xef\xbb\xbf" + body  # a byte order mark
    if draw(st.integers(0, 4)) == 0:
        body = body[: draw(st.integers(0, len(body)))]  # a truncated upload
    return body


def _rows() -> dict[str, int]:
    return {
        "prompts": Prompt.objects.count(),
        "candidates": Candidate.objects.count(),
        "comparisons": Comparison.objects.count(),
        "judgments": Judgment.objects.count(),
        "batches": ImportBatch.objects.count(),
    }


def _added(before: dict[str, int]) -> dict[str, int]:
    after = _rows()
    return {key: after[key] - before[key] for key in after}


def _expected(batch: dict[str, Any], *, new: bool) -> dict[str, int]:
    if not new:
        return dict.fromkeys(("prompts", "candidates", "comparisons", "judgments", "batches"), 0)
    return {
        "prompts": batch["prompts_created"],
        "candidates": batch["candidates_created"],
        "comparisons": batch["comparisons_created"],
        "judgments": batch["judgments_created"],
        "batches": 1,
    }


def _via_service(project: Project, data: bytes, as_judgments: bool) -> tuple[int, dict[str, Any] | None]:
    try:
        batch = data_import(
            project=project, file=io.BytesIO(data), file_name="fuzz.jsonl", as_judgments=as_judgments
        )
    except ValidationFailed as exc:
        assert exc.message and exc.details, "a refusal must say what is wrong"
        return 400, None
    body = {f.name: getattr(batch, f.name) for f in ImportBatch._meta.fields}
    return (200 if batch.already_imported else 201), body


def _via_api(client: APIClient, data: bytes, as_judgments: bool) -> tuple[int, dict[str, Any] | None]:
    response = client.post(
        reverse("api:import-create", args=["project-a"]),
        {"file": SimpleUploadedFile("fuzz.jsonl", data), "as_judgments": str(as_judgments).lower()},
        format="multipart",
    )
    body = response.json()
    if response.status_code == 400:
        assert body["error"] and isinstance(body["details"], list), body
        return 400, None
    return response.status_code, body


def _via_page(client: Client, data: bytes, as_judgments: bool) -> tuple[int, dict[str, Any] | None]:
    fields: dict[str, Any] = {"file": SimpleUploadedFile("fuzz.jsonl", data), "format": "auto"}
    if as_judgments:
        fields["as_judgments"] = "on"
    response = client.post(reverse("project-import", args=["project-a"]), fields)
    if response.status_code == 400:
        return 400, None
    batch = response.context["batch"]
    body = {f.name: getattr(batch, f.name) for f in ImportBatch._meta.fields}
    return (200 if batch.already_imported else 201), body


@pytest.fixture
def clients(alice: AbstractBaseUser) -> tuple[APIClient, Client]:
    api = APIClient()
    api.force_authenticate(alice)
    page = Client(raise_request_exception=False)
    page.force_login(alice)
    return api, page


def test_fuzzed_files_import_whole_or_not_at_all(project: Project, clients: tuple[APIClient, Client]) -> None:
    api, page = clients
    api.raise_request_exception = False
    seen: Counter[tuple[str, int]] = Counter()

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
    @given(data=files(), via=st.sampled_from(["service", "api", "page"]), as_judgments=st.booleans())
    def one_file(data: bytes, via: str, as_judgments: bool) -> None:
        before = _rows()
        if via == "service":
            status, batch = _via_service(project, data, as_judgments)
        elif via == "api":
            status, batch = _via_api(api, data, as_judgments)
        else:
            status, batch = _via_page(page, data, as_judgments)
        assert status in (200, 201, 400), f"{via} answered {status} for {data[:200]!r}"
        added = _added(before)
        if status == 400:
            assert added == dict.fromkeys(added, 0), f"a refused import wrote rows: {added}"
        else:
            assert added == _expected(batch, new=status == 201), f"{via}: counts {batch} but rows {added}"
        seen[via, status] += 1

    one_file()
    # The generator must reach both outcomes through every door, or it tests nothing.
    for via in ("service", "api", "page"):
        assert seen[via, 400] and seen[via, 201], seen
