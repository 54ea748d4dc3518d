"""The export doors: the export_data command, the API endpoint and the admin page."""

from __future__ import annotations

import io
import json
import uuid
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from annotation.models import Judgment, Project
from annotation.services.exporting import ExportSpec, export_rows
from tests.factories import make_comparison

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_passwords(settings) -> None:
    """The named users' passwords are never checked here: skip the deliberately slow hasher."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def judged(project: Project, alice, bob) -> Project:
    """Two pairwise comparisons, each judged by alice and bob, and a three-way ranking by bob."""
    for n in range(3):
        comparison = make_comparison(project=project, candidates=3 if n == 2 else 2)
        order = list(comparison.slots.values_list("candidate_id", flat=True))
        for user in (bob,) if n == 2 else (alice, bob):
            Judgment.objects.create(
                comparison=comparison, annotator=user, ordering=[[c] for c in order],
                submission_token=uuid.uuid4().hex,
            )  # fmt: skip
    return project


def expected(project: Project, **spec: object) -> list[dict]:
    return list(export_rows(projects=[project], spec=ExportSpec(**spec)))


def parse(data: bytes, file_format: str) -> list[dict]:
    if file_format == "parquet":
        return pq.read_table(io.BytesIO(data)).to_pylist()
    return [json.loads(line) for line in data.decode().splitlines()]


def streamed(response) -> bytes:
    assert response.streaming
    return b"".join(response.streaming_content)


# -- The command ---------------------------------------------------------------------------------


def test_command_writes_jsonl_and_reports_on_stderr(judged: Project, tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    call_command("export_data", "project-a", str(tmp_path / "prefs.jsonl"), stdout=out, stderr=err)
    assert parse((tmp_path / "prefs.jsonl").read_bytes(), "jsonl") == expected(judged)
    assert "Exported 7 preference rows" in err.getvalue()
    assert not (tmp_path / "prefs.jsonl.partial").exists()


def test_command_takes_parquet_from_the_suffix_and_usernames_as_annotators(
    judged: Project, tmp_path: Path
) -> None:
    path = tmp_path / "judgments.parquet"
    call_command(
        "export_data", "project-a", str(path), "--kind", "judgments", "--annotator", "alice",
        "--conversational", stderr=io.StringIO(),
    )  # fmt: skip
    rows = parse(path.read_bytes(), "parquet")
    alice_id = Project.objects.get(slug="project-a").members.get(username="alice").pk
    assert rows == expected(judged, kind="judgments", conversational=True, annotator_ids=(alice_id,))
    assert len(rows) == 2


def test_command_writes_to_stdout(judged: Project, capfdbinary: pytest.CaptureFixture[bytes]) -> None:
    call_command("export_data", "project-a", "-", "--ranking-pairs", "adjacent", "--min-agreement", "0.5",
                 stderr=io.StringIO())  # fmt: skip
    data = capfdbinary.readouterr().out
    assert parse(data, "jsonl") == expected(judged, ranking_pairs="adjacent", min_agreement=0.5)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "csv"], "--format must be one of jsonl, parquet"),
        (["--min-agreement", "2"], "--min-agreement must be a number between 0 and 1"),
        (["--from", "last week"], "--from must be a date"),
        (["--annotator", "nobody"], "--annotator: no user 'nobody'"),
    ],
)
def test_command_names_the_bad_option(judged: Project, tmp_path: Path, args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        call_command("export_data", "project-a", str(tmp_path / "x.jsonl"), *args)
    assert not (tmp_path / "x.jsonl").exists()


def test_command_refuses_an_unknown_project(db: None, tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="No project 'nope'"):
        call_command("export_data", "nope", str(tmp_path / "x.jsonl"))


# -- The API -------------------------------------------------------------------------------------

API = "/api/projects/project-a/export/"


@pytest.mark.parametrize("file_format", ["jsonl", "parquet"])
def test_api_streams_the_export_to_admins(judged: Project, alice, client: Client, file_format: str) -> None:
    client.force_login(alice)
    response = client.get(API, {"kind": "preference", "format": file_format, "ties": "keep"})
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="project-a-preference.{file_format}"'
    assert parse(streamed(response), file_format) == expected(judged, ties="keep")


def test_api_refuses_annotators_and_outsiders(judged: Project, bob, mallory, client: Client) -> None:
    assert client.get(API).status_code in (401, 403)
    client.force_login(bob)
    assert client.get(API).status_code == 403
    client.force_login(mallory)
    assert client.get(API).status_code == 404


def test_api_bad_parameters_are_a_400_naming_the_field(judged: Project, alice, client: Client) -> None:
    client.force_login(alice)
    response = client.get(API, {"format": "xml", "ties": "sometimes", "min_agreement": "lots"})
    assert response.status_code == 400
    assert [d["field"] for d in response.json()["details"]] == ["format", "ties", "min_agreement"]


# -- The page ------------------------------------------------------------------------------------

PAGE = "/projects/project-a/export/"


def test_page_shows_the_form_to_admins(judged: Project, alice, client: Client) -> None:
    client.force_login(alice)
    response = client.get(PAGE)
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="export-form"' in page and "js/export.js" in page
    assert ">bob</option>" in page


def test_page_download_streams_the_file(judged: Project, alice, client: Client) -> None:
    client.force_login(alice)
    response = client.get(
        PAGE, {"download": "1", "kind": "judgments", "format": "parquet", "conversational": ["false", "true"],
               "include_imported": ["false"], "annotator": [], "from": ""},
    )  # fmt: skip
    assert response.status_code == 200
    rows = parse(streamed(response), "parquet")
    assert rows == expected(judged, kind="judgments", conversational=True, include_imported=False)


def test_page_shows_bad_parameters_in_the_form(judged: Project, alice, client: Client) -> None:
    client.force_login(alice)
    response = client.get(PAGE, {"download": "1", "min_agreement": "7"})
    assert response.status_code == 400
    assert "<strong>min_agreement</strong> must be a number between 0 and 1" in response.content.decode()


def test_page_refuses_annotators(judged: Project, bob, client: Client) -> None:
    client.force_login(bob)
    assert client.get(PAGE).status_code == 403
    client.logout()
    assert client.get(PAGE).status_code == 302
