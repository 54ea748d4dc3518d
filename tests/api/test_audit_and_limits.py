"""The audit trail of imports, exports, run launches and role changes; throttles and login limits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import DatabaseError
from django.test import Client
from rest_framework.request import Request
from rest_framework.test import APIClient, APIRequestFactory

from annotation.models import AuditEvent, Membership, Project
from rankwise.api.throttling import AnonRateThrottle, UserRateThrottle
from tests.factories import UserFactory
from tests.training.conftest import judged_project
from training.services.snapshots import SnapshotSpec, snapshot_create

pytestmark = pytest.mark.django_db


def _client(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _jsonl() -> bytes:
    row = {"prompt": "Say hi", "candidates": [{"text": "hi"}, {"text": "hello"}]}
    return (json.dumps(row) + "\n").encode()


def test_import_export_and_run_launch_are_audited(alice, project: Project, settings, tmp_path: Path) -> None:
    settings.DATA_DIR = tmp_path
    client = _client(alice)
    upload = SimpleUploadedFile("pairs.jsonl", _jsonl(), content_type="application/jsonl")
    assert (
        client.post("/api/projects/project-a/imports/", {"file": upload}, format="multipart").status_code
        == 201
    )
    export = client.get("/api/projects/project-a/export/?kind=sft")
    assert export.status_code == 200
    b"".join(export.streaming_content)
    judged_project(project, comparisons=4)
    snapshot = snapshot_create(spec=SnapshotSpec(name="s", projects=[project], eval_fraction=0.25))
    body = {"method": "dpo", "snapshot": snapshot.pk, "base_model": "tiny"}
    launched = client.post("/api/projects/project-a/runs/", body, format="json")
    assert launched.status_code == 201, launched.content
    events = client.get("/api/projects/project-a/audit/").json()["results"]
    assert [(e["action"], e["actor"]) for e in events] == [
        ("run_launch", "alice"),
        ("export", "alice"),
        ("import", "alice"),
    ]
    assert events[0]["target"] == f"run {launched.json()['id']}"
    assert events[1]["details"]["kind"] == "sft" and events[1]["target"] == "project-a-sft.jsonl"
    assert events[2]["target"] == "pairs.jsonl" and events[2]["details"]["comparisons_created"] == 1


def test_refused_requests_and_other_projects_leave_no_trace(alice, bob, mallory) -> None:
    assert _client(bob).get("/api/projects/project-a/export/").status_code == 403
    assert _client(bob).get("/api/projects/project-a/audit/").status_code == 403
    assert _client(mallory).get("/api/projects/project-a/audit/").status_code == 404
    assert not AuditEvent.objects.exists()


def test_role_changes_on_the_settings_page_are_audited(alice, bob, project: Project) -> None:
    client = Client()
    client.force_login(alice)
    client.post(f"/projects/{project.slug}/members/", {"username": "bob", "role": "reviewer"})
    event = AuditEvent.objects.get()
    assert (event.action, event.target, event.details) == (
        "role_change",
        "bob",
        {"from": "annotator", "to": "reviewer"},
    )


def test_a_membership_change_whose_audit_row_cannot_be_written_is_not_made(
    alice, bob, project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unwritable(**_fields):
        raise DatabaseError("the audit table cannot be written")

    monkeypatch.setattr(AuditEvent.objects, "create", unwritable)
    api = APIClient(raise_request_exception=False)
    api.force_authenticate(alice)
    page = Client(raise_request_exception=False)
    page.force_login(alice)
    members = f"/api/projects/{project.slug}/members/"
    bob_id = str(bob.pk)
    answers = [
        api.patch(f"{members}bob/", {"role": "reviewer", "attributes": {"language": "de"}}, format="json"),
        api.delete(f"{members}bob/"),
        page.post(f"/projects/{project.slug}/members/", {"username": "bob", "role": "reviewer"}),
        page.post(f"/projects/{project.slug}/members/{bob_id}/attributes/", {"attributes": "language=de"}),
        page.post(f"/projects/{project.slug}/members/{bob_id}/remove/"),
    ]
    assert all(answer.status_code >= 500 for answer in answers), [a.status_code for a in answers]
    membership = Membership.objects.get(project=project, user=bob)
    assert (membership.role, membership.attributes) == ("annotator", {})


def test_users_are_throttled(bob, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(UserRateThrottle, "rate", "3/min", raising=False)
    client = _client(bob)
    codes = [client.get("/api/projects/").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]


def _sign_in(path: str, username: str, password: str, address: str, forwarded_for: str = "") -> int:
    """The status of one sign-in from `address` (a new client each time, as an attacker's script)."""
    headers = {"REMOTE_ADDR": address}
    if forwarded_for:
        headers["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return Client(**headers).post(path, {"username": username, "password": password}).status_code


@pytest.mark.parametrize("door", ["/login/", "/admin/login/"])
def test_repeated_failures_lock_the_username_at_that_address_on_every_door(door: str, settings) -> None:
    settings.AXES_FAILURE_LIMIT = 3
    UserFactory(username="erin", password="right-password", is_staff=True)
    codes = [_sign_in(door, "erin", "wrong", "203.0.113.66") for _ in range(4)]
    assert codes == [200, 200, 429, 429]
    attacker = Client(REMOTE_ADDR="203.0.113.66")
    refused = attacker.post(door, {"username": "erin", "password": "right-password"})
    assert refused.status_code == 429 and b"Too many failed sign-in attempts" in refused.content
    assert "_auth_user_id" not in attacker.session


def test_an_attackers_failures_do_not_lock_the_owner_out_from_another_address(settings) -> None:
    settings.AXES_FAILURE_LIMIT = 3
    UserFactory(username="erin", password="right-password", is_staff=True)
    for door in ("/login/", "/admin/login/"):
        for _ in range(5):
            _sign_in(door, "erin", "wrong", "203.0.113.66")
        assert _sign_in(door, "erin", "right-password", "203.0.113.66") == 429
        assert _sign_in(door, "erin", "right-password", "198.51.100.7") == 302, door


def test_x_forwarded_for_from_an_untrusted_peer_is_ignored(settings) -> None:
    settings.AXES_FAILURE_LIMIT = 3
    UserFactory(username="erin", password="right-password")
    codes = [_sign_in("/login/", "erin", "wrong", "203.0.113.66", f"198.51.100.{i}") for i in range(3)]
    assert codes == [200, 200, 429], "a new X-Forwarded-For each time is still one client"
    assert _sign_in("/login/", "erin", "right-password", "203.0.113.66", "198.51.100.7") == 429


def test_behind_a_trusted_proxy_the_forwarded_client_is_limited_not_the_proxy(settings) -> None:
    settings.AXES_FAILURE_LIMIT = 3
    settings.RANKWISE_TRUSTED_PROXIES = ["10.0.0.0/24"]
    UserFactory(username="erin", password="right-password")
    for _ in range(3):
        _sign_in("/login/", "erin", "wrong", "10.0.0.2", "203.0.113.66")
    assert _sign_in("/login/", "erin", "right-password", "10.0.0.2", "203.0.113.66") == 429
    # The owner comes through the same proxy from her own address.
    assert _sign_in("/login/", "erin", "right-password", "10.0.0.3", "198.51.100.7") == 302
    # A client that prepends a forged address is still known by the address our proxy appended.
    assert _sign_in("/login/", "erin", "right-password", "10.0.0.2", "198.51.100.7, 203.0.113.66") == 429


def test_login_succeeds_below_the_limit_and_success_forgets_the_failures(settings) -> None:
    settings.AXES_FAILURE_LIMIT = 3
    UserFactory(username="erin", password="right-password")
    for _ in range(2):
        assert _sign_in("/login/", "erin", "wrong", "198.51.100.7") == 200
    assert _sign_in("/login/", "erin", "right-password", "198.51.100.7") == 302
    codes = [_sign_in("/login/", "erin", "wrong", "198.51.100.7") for _ in range(3)]
    assert codes == [200, 200, 429]


def test_api_throttles_key_anonymous_clients_on_the_peer_not_a_forged_forwarded_for() -> None:
    # No API endpoint lets an anonymous client past its permissions to the throttle today, so the
    # key is checked directly: DRF's own believes any X-Forwarded-For.
    requests = [
        Request(APIRequestFactory().get("/api/", REMOTE_ADDR="203.0.113.66", HTTP_X_FORWARDED_FOR=forged))
        for forged in ("198.51.100.1", "198.51.100.2")
    ]
    for throttle in (AnonRateThrottle(), UserRateThrottle()):
        assert {throttle.get_ident(request) for request in requests} == {"203.0.113.66"}


def test_audit_page_lists_events_for_admins_only(alice, bob, project: Project) -> None:
    _client(alice).post("/api/projects/project-a/members/", {"username": "bob", "role": "reviewer"})
    admin = Client()
    admin.force_login(alice)
    page = admin.get("/projects/project-a/audit/?action=role_change")
    assert page.status_code == 200 and b"Role change" in page.content and b"bob" in page.content
    assert b"Nothing recorded yet" in admin.get("/projects/project-a/audit/?action=import").content
    annotator = Client()
    annotator.force_login(bob)
    assert annotator.get("/projects/project-a/audit/").status_code == 403
