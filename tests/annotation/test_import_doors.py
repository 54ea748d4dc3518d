"""The doors onto importing and project administration: commands, API and pages.

Permissions and status codes: alice is admin of project A, bob an annotator of it, mallory an
annotator of project B only.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import AbstractBaseUser
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from annotation.models import AuditEvent, Comparison, ImportBatch, Membership, Project, Prompt
from tests.conftest import ROOT, _database_url
from tests.factories import ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db

ROWS = [
    {"prompt": "What is 2+2?", "candidates": [{"text": "4"}, {"text": "5"}, {"text": "22"}]},
    {"prompt": "Capital of Peru?", "candidates": [{"text": "Lima"}, {"text": "Cusco"}]},
]
GOOD = b"".join(json.dumps(r).encode() + b"\n" for r in ROWS)
BAD = GOOD + b'{"prompt": "x", "candidates": [{"text": "only one"}]}\n'


def _file(data: bytes, name: str = "data.jsonl") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/jsonl")


def _api(user: AbstractBaseUser | None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def _web(user: AbstractBaseUser | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


# Commands


def test_import_data_command_reports_counts(project: Project, tmp_path: Path) -> None:
    path = tmp_path / "data.jsonl"
    path.write_bytes(GOOD)
    out = io.StringIO()
    call_command("import_data", "project-a", str(path), stdout=out)
    assert "2 prompts, 5 candidates, 4 comparisons, 0 judgments" in out.getvalue()
    out = io.StringIO()
    call_command("import_data", "project-a", str(path), stdout=out)
    assert "already imported" in out.getvalue()
    assert ImportBatch.objects.count() == 1


def test_import_and_export_commands_audit_once_like_the_doors(
    project: Project, alice, tmp_path: Path
) -> None:
    path = tmp_path / "data.jsonl"
    path.write_bytes(GOOD)
    call_command("import_data", "project-a", str(path), "--user", "alice", stdout=io.StringIO())
    call_command(
        "export_data", "project-a", str(tmp_path / "out.jsonl"), "--kind", "judgments", stdout=io.StringIO()
    )
    events = list(AuditEvent.objects.order_by("id").values_list("action", "actor__username", "target"))
    assert events == [
        (AuditEvent.Action.IMPORT, "alice", "data.jsonl"),
        (AuditEvent.Action.EXPORT, None, "project-a-judgments.jsonl"),
    ]


def test_import_data_command_fails_with_the_report_on_stderr(project: Project, tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(BAD)
    err = io.StringIO()
    with pytest.raises(CommandError, match="1 problem"):
        call_command("import_data", "project-a", str(path), stderr=err)
    assert "line 3: candidates: expected at least 2 candidates, got 1" in err.getvalue()
    assert not Prompt.objects.exists()
    with pytest.raises(CommandError, match="No project"):
        call_command("import_data", "nope", str(path))
    with pytest.raises(CommandError, match="No file"):
        call_command("import_data", "project-a", str(tmp_path / "missing.jsonl"))


def test_import_data_check_only_validates(project: Project, tmp_path: Path) -> None:
    good, bad = tmp_path / "good.jsonl", tmp_path / "bad.jsonl"
    good.write_bytes(GOOD)
    bad.write_bytes(BAD)
    out = io.StringIO()
    call_command("import_data", "project-a", str(good), "--check", stdout=out)
    assert "good.jsonl is valid: 2 lines of native." in out.getvalue()
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_data", "project-a", str(bad), "--check", stderr=err)
    assert "line 3: candidates:" in err.getvalue()
    assert not Prompt.objects.exists() and not ImportBatch.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_import_data_command_exits_1_from_the_shell(tmp_path: Path) -> None:
    ProjectFactory(slug="shell")
    path = tmp_path / "bad.jsonl"
    path.write_bytes(BAD)
    env = {**os.environ, "DATABASE_URL": _database_url()}
    result = subprocess.run(
        [sys.executable, "manage.py", "import_data", "shell", str(path), "--format", "native"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "line 3: candidates: expected at least 2 candidates" in result.stderr
    assert result.stdout == ""


def test_create_project_command(db: None) -> None:
    UserFactory(username="alice")
    out = io.StringIO()
    call_command(
        "create_project",
        "chat",
        "--name",
        "Chat",
        "--mode",
        "ranking",
        "--candidates",
        "4",
        "--overlap",
        "3",
        "--criteria",
        "helpfulness, honesty",
        "--admin",
        "alice",
        stdout=out,
    )
    project = Project.objects.get(slug="chat")
    assert (project.mode, project.candidates_per_comparison, project.overlap) == ("ranking", 4, 3)
    assert project.rating_criteria == ["helpfulness", "honesty"]
    assert project.memberships.get().role == Membership.Role.ADMIN
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("create_project", "chat", stderr=err)
    assert "slug:" in err.getvalue()
    with pytest.raises(CommandError, match="No user"):
        call_command("create_project", "other", "--admin", "nobody")


# API


def test_api_import_creates_a_batch_then_returns_it_again(project: Project, alice) -> None:
    url = reverse("api:import-create", args=["project-a"])
    response = _api(alice).post(url, {"file": _file(GOOD)}, format="multipart")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["prompts_created"], body["candidates_created"], body["comparisons_created"]) == (2, 5, 4)
    assert body["already_imported"] is False and body["format"] == "native"
    again = _api(alice).post(url, {"file": _file(GOOD, "copy.jsonl")}, format="multipart")
    assert again.status_code == 200 and again.json()["id"] == body["id"] and again.json()["already_imported"]


def test_api_import_of_preferences_as_judgments(project: Project, alice) -> None:
    data = json.dumps({"prompt": "Q", "chosen": "good", "rejected": "bad"}).encode() + b"\n"
    response = _api(alice).post(
        reverse("api:import-create", args=["project-a"]),
        {"file": _file(data), "format": "trl", "as_judgments": "true"},
        format="multipart",
    )
    assert response.status_code == 201 and response.json()["judgments_created"] == 1


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (BAD, "expected at least 2 candidates"),
        (json.dumps(ROWS).encode(), "expected one JSON object per line"),
        (b"\xff\xfe{}\n", "not valid UTF-8"),
        (b"{nope\n", "invalid JSON"),
    ],
)
def test_api_import_of_a_bad_file_is_400_with_details(
    project: Project, alice, data: bytes, reason: str
) -> None:
    response = _api(alice).post(
        reverse("api:import-create", args=["project-a"]), {"file": _file(data)}, format="multipart"
    )
    assert response.status_code == 400
    body = response.json()
    assert body["error"] and reason in body["details"][0]["reason"]
    assert set(body["details"][0]) == {"line", "field", "reason"}
    assert not Prompt.objects.exists()


def test_api_import_refuses_bad_requests_without_500(project: Project, alice, settings) -> None:
    url = reverse("api:import-create", args=["project-a"])
    client = _api(alice)
    assert client.post(url, {}, format="multipart").status_code == 400
    assert client.post(url, {"file": _file(GOOD), "format": "csv"}, format="multipart").status_code == 400
    assert client.post(url, {"file": _file(b"")}, format="multipart").status_code == 400
    assert client.post(url, {"file": "text"}, format="json").status_code in (400, 415)
    settings.RANKWISE_MAX_UPLOAD_BYTES = 100
    response = client.post(url, {"file": _file(GOOD)}, format="multipart")
    assert response.status_code == 400 and response.json()["details"][0]["field"] == "file"
    assert not Prompt.objects.exists()


def test_api_import_streams_a_large_upload_from_its_temporary_file(project: Project, alice) -> None:
    # Past FILE_UPLOAD_MAX_MEMORY_SIZE (2 MB) the upload is a TemporaryUploadedFile on disk.
    rows = [
        {"prompt": f"Long {i}", "candidates": [{"text": "x" * 900_000}, {"text": f"short {i}"}]}
        for i in range(3)
    ]
    data = b"".join(json.dumps(r).encode() + b"\n" for r in rows)
    response = _api(alice).post(
        reverse("api:import-create", args=["project-a"]), {"file": _file(data)}, format="multipart"
    )
    assert response.status_code == 201 and response.json()["lines"] == 3


@pytest.mark.parametrize(("who", "status"), [("bob", 403), ("mallory", 404), (None, 403)])
def test_api_import_needs_the_admin_role_in_that_project(
    project: Project, request: pytest.FixtureRequest, who: str | None, status: int
) -> None:
    user = request.getfixturevalue(who) if who else None
    response = _api(user).post(
        reverse("api:import-create", args=["project-a"]), {"file": _file(GOOD)}, format="multipart"
    )
    assert response.status_code == status
    assert "error" in response.json()
    assert not Prompt.objects.exists()


def test_api_import_into_an_unknown_project_is_404(alice) -> None:
    response = _api(alice).post(
        reverse("api:import-create", args=["nope"]), {"file": _file(GOOD)}, format="multipart"
    )
    assert response.status_code == 404


# Pages


def test_import_page_shows_counts_then_already_imported(project: Project, alice) -> None:
    url = reverse("project-import", args=["project-a"])
    client = _web(alice)
    assert client.get(url).status_code == 200
    response = client.post(url, {"file": _file(GOOD), "format": "auto"})
    assert response.status_code == 200
    assert b"2 prompts, 5 candidates" in response.content
    response = client.post(url, {"file": _file(GOOD), "format": "auto"})
    assert b"Already imported" in response.content
    assert b"data.jsonl" in client.get(url).content  # the recent imports table


def test_import_page_shows_the_error_table_and_writes_nothing(project: Project, alice) -> None:
    response = _web(alice).post(reverse("project-import", args=["project-a"]), {"file": _file(BAD)})
    assert response.status_code == 400
    assert b"Nothing was imported" in response.content
    assert b"<td>3</td><td><code>candidates</code></td>" in response.content
    assert not Prompt.objects.exists()


def test_import_page_refuses_a_missing_file_and_an_oversized_one(project: Project, alice, settings) -> None:
    url = reverse("project-import", args=["project-a"])
    assert _web(alice).post(url, {"format": "auto"}).status_code == 400
    settings.RANKWISE_MAX_UPLOAD_BYTES = 100
    response = _web(alice).post(url, {"file": _file(GOOD)})
    assert response.status_code == 400 and b"larger than the limit" in response.content


@pytest.mark.parametrize("page", ["project-import", "project-settings"])
@pytest.mark.parametrize(("who", "status"), [("bob", 403), ("mallory", 404)])
def test_admin_pages_refuse_other_roles_and_projects(
    project: Project, request: pytest.FixtureRequest, page: str, who: str, status: int
) -> None:
    client = _web(request.getfixturevalue(who))
    url = reverse(page, args=["project-a"])
    assert client.get(url).status_code == status
    assert client.post(url, {"file": _file(GOOD), "name": "Taken over"}).status_code == status
    assert not Prompt.objects.exists() and Project.objects.get(slug="project-a").name == "Project A"


def test_admin_pages_send_anonymous_visitors_to_login(project: Project) -> None:
    for page in ("project-import", "project-settings"):
        response = _web(None).get(reverse(page, args=["project-a"]))
        assert response.status_code == 302 and "/login/" in response["Location"]


def _settings_post(**changes: object) -> dict:
    values = {
        "name": "Project A",
        "guidelines": "",
        "mode": "pairwise",
        "pairing": "all_pairs",
        "candidates_per_comparison": 2,
        "overlap": 1,
        "rating_criteria": "",
        "rating_scale_max": 7,
        "hides_model_names": "on",
        "lease_minutes": 30,
        "edit_window_minutes": 10,
        "gold_rate": 0.0,
        # The quality thresholds at their defaults.
        "min_items": 10,
        "min_consensus_agreement": 0.6,
        "min_gold_accuracy": 0.7,
        "min_gold_pairs": 5,
        "bias_p_value": 0.001,
        "min_bias_effect": 0.1,
        "min_median_seconds": 2.0,
        "review_min_agreement": 0.6,
        "queue_order": "default",
    }
    values.update(changes)
    return values


def test_settings_page_saves_settings(project: Project, alice) -> None:
    url = reverse("project-settings", args=["project-a"])
    client = _web(alice)
    assert client.get(url).status_code == 200
    data = _settings_post(
        guidelines="# Be fair", overlap=3, rating_criteria="helpfulness, honesty", gold_rate=0.1
    )
    response = client.post(url, data)
    assert response.status_code == 302
    project.refresh_from_db()
    assert (project.guidelines, project.overlap, project.gold_rate) == ("# Be fair", 3, 0.1)
    assert project.rating_criteria == ["helpfulness", "honesty"]


def test_settings_page_shows_errors_for_invalid_settings(project: Project, alice) -> None:
    url = reverse("project-settings", args=["project-a"])
    response = _web(alice).post(url, _settings_post(mode="ranking", candidates_per_comparison=2))
    assert response.status_code == 200
    assert b"ranking projects 3 or 4" in response.content
    assert Project.objects.get(pk=project.pk).mode == "pairwise"


def test_settings_page_keeps_the_mode_once_comparisons_exist(project: Project, alice) -> None:
    _web(alice).post(reverse("project-import", args=["project-a"]), {"file": _file(GOOD)})
    assert Comparison.objects.exists()
    url = reverse("project-settings", args=["project-a"])
    response = _web(alice).post(url, _settings_post(mode="ranking", candidates_per_comparison=3, overlap=2))
    assert response.status_code == 302
    project.refresh_from_db()
    assert (project.mode, project.overlap) == ("pairwise", 2)


def test_members_can_be_added_changed_and_removed(project: Project, alice, bob) -> None:
    UserFactory(username="dave")
    client = _web(alice)
    members_url = reverse("project-member-save", args=["project-a"])
    assert client.post(members_url, {"username": "dave", "role": "reviewer"}).status_code == 302
    assert client.post(members_url, {"username": "bob", "role": "admin"}).status_code == 302
    response = client.post(members_url, {"username": "nobody", "role": "admin"})
    assert response.status_code == 400 and b"No user with this username" in response.content
    roles = dict(project.memberships.values_list("user__username", "role"))
    assert roles == {"alice": "admin", "bob": "admin", "dave": "reviewer"}
    dave = project.memberships.get(user__username="dave").user
    assert client.post(reverse("project-member-remove", args=["project-a", dave.pk])).status_code == 302
    assert not project.memberships.filter(user=dave).exists()


def test_the_last_admin_cannot_demote_themselves(project: Project, alice) -> None:
    response = _web(alice).post(
        reverse("project-member-save", args=["project-a"]), {"username": "alice", "role": "annotator"}
    )
    assert response.status_code == 400 and b"at least one admin" in response.content
    assert project.memberships.get(user=alice).role == "admin"
    response = _web(alice).post(reverse("project-member-remove", args=["project-a", alice.pk]))
    assert response.status_code == 409


def test_annotators_cannot_change_members(project: Project, bob, mallory) -> None:
    url = reverse("project-member-save", args=["project-a"])
    assert _web(bob).post(url, {"username": "bob", "role": "admin"}).status_code == 403
    assert _web(mallory).post(url, {"username": "mallory", "role": "admin"}).status_code == 404
    assert not project.memberships.filter(role="admin").exists()


def test_superusers_create_projects_and_land_on_the_import_page(db: None) -> None:
    root = UserFactory(username="root", is_superuser=True, is_staff=True)
    client = _web(root)
    assert client.get(reverse("project-create")).status_code == 200
    response = client.post(reverse("project-create"), {**_settings_post(name="Chat"), "slug": "chat"})
    assert response.status_code == 302 and response["Location"] == reverse("project-import", args=["chat"])
    assert Project.objects.get(slug="chat").memberships.get().user == root
    response = client.post(reverse("project-create"), {**_settings_post(name="Again"), "slug": "chat"})
    assert response.status_code == 200 and Project.objects.count() == 1


def test_only_superusers_create_projects(alice) -> None:
    client = _web(alice)
    assert client.get(reverse("project-create")).status_code == 403
    response = client.post(reverse("project-create"), {**_settings_post(name="X"), "slug": "x"})
    assert response.status_code == 403 and not Project.objects.filter(slug="x").exists()


def test_manage_list_shows_only_projects_one_administers(project: Project, alice, bob) -> None:
    ProjectFactory(name="Hidden project")
    assert b"Project A" in _web(alice).get(reverse("project-manage-list")).content
    content = _web(bob).get(reverse("project-manage-list")).content
    assert b"Project A" not in content and b"not an admin of any project" in content


def test_garbage_input_to_the_admin_pages_gives_form_errors_not_500(project: Project, alice) -> None:
    client = _web(alice)
    garbage = _settings_post(
        overlap="abc", gold_rate="x", mode="zzz", lease_minutes="-5", candidates_per_comparison=""
    )
    assert client.post(reverse("project-settings", args=["project-a"]), garbage).status_code == 200
    assert (
        client.post(reverse("project-member-save", args=["project-a"]), {"role": "king"}).status_code == 400
    )
    assert client.post(reverse("project-member-remove", args=["project-a", 99999])).status_code == 302
    assert client.get(reverse("project-member-save", args=["project-a"])).status_code == 405
    response = client.post(
        reverse("project-import", args=["project-a"]), {"file": _file(GOOD), "format": "xml"}
    )
    assert response.status_code == 400 and not Prompt.objects.exists()
    api = _api(alice)
    url = reverse("api:import-create", args=["project-a"])
    assert (
        api.post(url, {"file": _file(GOOD), "as_judgments": "maybe"}, format="multipart").status_code == 400
    )
    assert Project.objects.get(pk=project.pk).overlap == 1


def test_pages_query_counts_do_not_grow_with_imports_or_members(project: Project, alice) -> None:
    client = _web(alice)

    def queries(url: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    import_url = reverse("project-import", args=["project-a"])
    settings_url = reverse("project-settings", args=["project-a"])
    ImportBatch.objects.create(
        project=project, file_name="a", file_sha256="a", format="native", created_by=alice
    )
    before = (queries(import_url), queries(settings_url))
    for i in range(5):
        user = UserFactory(username=f"member{i}")
        Membership.objects.create(project=project, user=user)
        ImportBatch.objects.create(
            project=project, file_name=f"{i}", file_sha256=f"{i}", format="trl", created_by=user
        )
    assert (queries(import_url), queries(settings_url)) == before


def test_settings_page_edits_quality_thresholds_and_names_a_bad_one(project: Project, alice) -> None:
    url = reverse("project-settings", args=["project-a"])
    client = _web(alice)
    page = client.get(url).content.decode()
    assert 'id="quality-thresholds"' in page and 'name="min_consensus_agreement"' in page
    assert client.post(url, _settings_post(min_consensus_agreement=0.8, min_items=20)).status_code == 302
    project.refresh_from_db()
    assert (project.min_consensus_agreement, project.min_items) == (0.8, 20)
    response = client.post(url, _settings_post(min_consensus_agreement=1.5, overlap=3))
    assert response.status_code == 200
    assert "less than or equal to 1.0" in response.content.decode()
    project.refresh_from_db()
    assert (project.min_consensus_agreement, project.overlap) == (0.8, 1)


def test_members_page_sets_attributes_and_refuses_bad_ones(project: Project, alice, bob) -> None:
    client = _web(alice)
    url = reverse("project-member-attributes", args=["project-a", bob.pk])
    assert client.post(url, {"attributes": "language=de, expertise=law"}).status_code == 302
    assert Membership.objects.get(user=bob).attributes == {"expertise": "law", "language": "de"}
    page = client.get(reverse("project-settings", args=["project-a"])).content.decode()
    assert 'value="expertise=law, language=de"' in page
    for text, message in (("language", "is not key=value"), ("lang uage=de", "keys are 1–40")):
        response = client.post(url, {"attributes": text})
        assert response.status_code == 400 and message in response.content.decode(), text
    assert Membership.objects.get(user=bob).attributes == {"expertise": "law", "language": "de"}
    assert client.post(url, {"attributes": ""}).status_code == 302
    assert Membership.objects.get(user=bob).attributes == {}
    assert AuditEvent.objects.filter(action="member_attributes", target="bob").count() == 2
    assert _web(bob).post(url, {"attributes": "language=xx"}).status_code == 403
