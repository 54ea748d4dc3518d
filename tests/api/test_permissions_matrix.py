"""Every page and API endpoint, found by walking the URL resolver, across two projects and all roles.

Members of project A (admin, reviewer, annotator) must get 403/404/405 for everything of project B,
with B's real ids and with A's slug around B's ids; within A each known URL opens from its
minimum role up and is refused below it; anonymous visitors are sent to the login page or refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from annotation.models import Demonstration, Judgment, Membership, Project
from tests.factories import (
    MembershipFactory,
    ModelVersionFactory,
    ProjectFactory,
    RunFactory,
    UserFactory,
    make_comparison,
)
from tests.training.conftest import judged_project
from training.jobs.runs import artifacts_register
from training.models import Arena
from training.services.scoring import ScoringLaunchSpec, scoring_launch
from training.services.snapshots import SnapshotSpec, snapshot_create

pytestmark = pytest.mark.django_db

ROLES = ("admin", "reviewer", "annotator")
DENIED = {403, 404, 405}
ANNOTATOR_URLS = {
    "api:project-detail",
    "api:comparison-list",
    "api:judgment-list",
    "api:demonstration-list",
    "api:item-next",
    "api:judgment-submit",
    "api:assignment-skip",
    "annotate",
    "history",
    "guidelines",
}
REVIEWER_URLS = {
    "api:project-quality",
    "project-dashboard",
    "api:review-queue",
    "api:review-item",
    "review",
    "review-decide",
}
ADMIN_URLS = {
    "api:member-list",
    "api:member-detail",
    "api:audit-list",
    "api:import-create",
    "api:project-export",
    "project-settings",
    "project-member-save",
    "project-member-remove",
    "project-member-attributes",
    "project-import",
    "project-export",
    "project-audit",
    *(f"training-api:{n}" for n in ("snapshots", "runs", "run-preview", "run-detail", "run-metrics")),
    *(f"training-api:{n}" for n in ("run-cancel", "run-retry", "model-versions")),
    *(f"training:{n}" for n in ("snapshots", "runs", "run-launch", "run-compare", "run-detail")),
    *(f"training:{n}" for n in ("run-cancel", "run-retry", "model-download", "artifact-download")),
    *(f"training:{n}" for n in ("rounds", "arenas", "arena-detail")),
    *(f"training-api:{n}" for n in ("rounds", "arenas", "arena-detail")),
    *(f"training-api:{n}" for n in ("scorings", "scoring-detail", "scoring-cancel", "scores")),
    *(f"training:{n}" for n in ("scores", "scoring-cancel")),
}
# Only the judgment's author may open it, whatever their role.
AUTHOR_URLS = {"api:judgment-detail", "judgment-edit"}
PUBLIC = {"login", "logout"}


@dataclass
class Route:
    name: str
    pattern: str  # e.g. "api/projects/<slug:slug>/runs/<int:run_id>/"

    @property
    def kwargs(self) -> list[str]:
        return re.findall(r"<(?:\w+:)?(\w+)>", self.pattern)

    def url(self, values: dict[str, object]) -> str:
        return "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(values.get(m.group(1), 1)), self.pattern)


def _walk(patterns: list, prefix: str = "", namespace: str = "") -> Iterator[Route]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            if str(pattern.pattern) == "admin/":
                continue  # Django's admin: staff only, covered by Django itself.
            yield from _walk(
                pattern.url_patterns, prefix + str(pattern.pattern), pattern.namespace or namespace
            )
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield Route(
                f"{namespace}:{pattern.name}" if namespace else pattern.name, prefix + str(pattern.pattern)
            )


ROUTES = list(_walk(get_resolver().url_patterns))
PROJECT_ROUTES = [r for r in ROUTES if "slug" in r.kwargs]


@dataclass
class World:
    users: dict[tuple[str, str], object]  # (project slug, role) -> user
    ids: dict[str, dict[str, object]]  # project slug -> URL kwarg values of that project's objects


def _populate(project: Project, data_dir: Path) -> tuple[dict[str, object], dict[str, object]]:
    users = {}
    for role in ROLES:
        users[role] = UserFactory(username=f"{role}-{project.slug}")
        MembershipFactory(project=project, user=users[role], role=role)
    judged_project(project, comparisons=4)
    comparison = make_comparison(project=project)
    ids = [s.candidate_id for s in comparison.slots.all()]
    judgment = Judgment.objects.create(
        comparison=comparison,
        annotator=users["annotator"],
        ordering=[[ids[0]], [ids[1]]],
        submission_token=f"token-{project.slug}",
    )
    Demonstration.objects.create(prompt=comparison.prompt, annotator=users["annotator"], text="better")
    output = data_dir / "runs" / project.slug
    (output / "final").mkdir(parents=True)
    (output / "run.log").write_text("log\n")
    (output / "final" / "adapter.bin").write_bytes(b"weights")
    snapshot = snapshot_create(spec=SnapshotSpec(name="s", projects=[project], eval_fraction=0.25))
    run = RunFactory(
        project=project,
        method="dpo",
        base_model="tiny",
        snapshot=snapshot,
        output_dir=str(output),
        status="succeeded",
    )
    artifacts_register(run=run)
    arena = Arena.objects.create(project=project, name=f"arena of {project.slug}")
    version = ModelVersionFactory(
        name=f"rm-{project.slug}",
        run=run,
        path=str(output),
        method="reward",
        base="tiny",
        is_reward_model=True,
    )
    scoring = scoring_launch(project=project, spec=ScoringLaunchSpec(model_version=version))
    values = {
        "slug": project.slug,
        "pk": judgment.pk,
        "run_id": run.pk,
        "artifact_id": run.artifacts.first().pk,
        "user_id": users["annotator"].pk,
        "comparison_id": comparison.pk,
        "username": users["annotator"].username,
        "method": "dpo",
        "arena_id": arena.pk,
        "job_id": scoring.pk,
    }
    return users, values


@pytest.fixture
def world(settings, tmp_path: Path) -> World:
    settings.DATA_DIR = tmp_path
    users, ids = {}, {}
    for slug in ("project-a", "project-b"):
        project = ProjectFactory(name=slug, slug=slug)
        members, ids[slug] = _populate(project, tmp_path)
        users.update({(slug, role): user for role, user in members.items()})
    return World(users=users, ids=ids)


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


# A body that passes the shape checks of the answer doors, so they go on to look the object up.
BODY = {"ordering": [[1], [2]], "assignment": 1, "submission_token": "t", "reason": "r", "role": "admin"}


def _status(client: Client, method: str, url: str, body: dict | None = None) -> int:
    return getattr(client, method)(url, body or {}, content_type="application/json").status_code


def test_the_resolver_walk_finds_pages_and_api() -> None:
    names = {r.name for r in ROUTES}
    assert {"api:project-list", "api:comparison-list", "training-api:runs", "annotate", "api-schema"} <= names
    assert len(PROJECT_ROUTES) >= 40


@pytest.mark.parametrize("role", ROLES)
def test_members_of_a_get_nothing_of_b(world: World, role: str) -> None:
    client = _client(world.users[("project-a", role)])
    leaks = []
    for route in PROJECT_ROUTES:
        urls = [route.url(world.ids["project-b"])]
        if {"pk", "run_id", "artifact_id", "arena_id", "comparison_id", "job_id"} & set(route.kwargs):
            # A's slug around B's ids: an id guessed from another project must not resolve either.
            urls.append(route.url({**world.ids["project-b"], "slug": "project-a"}))
        for url in urls:
            for method in ("get", "post", "patch", "delete"):
                status = _status(client, method, url, BODY)
                if status not in DENIED:
                    leaks.append(f"{method.upper()} {url} ({route.name}) -> {status}")
    assert not leaks, "\n".join(leaks)


def _min_role(name: str) -> str | None:
    if name in ANNOTATOR_URLS:
        return "annotator"
    if name in REVIEWER_URLS:
        return "reviewer"
    if name in ADMIN_URLS:
        return "admin"
    return None


@pytest.mark.parametrize("role", ROLES)
def test_roles_within_a_open_what_they_may_and_nothing_more(world: World, role: str) -> None:
    client = _client(world.users[("project-a", role)])
    rank = {r: i for i, r in enumerate(reversed(ROLES))}
    wrong = []
    for route in PROJECT_ROUTES:
        url = route.url(world.ids["project-a"])
        # An empty body: a door that is open answers 400 (or acts), a closed one 403/404.
        statuses = {method: _status(client, method, url) for method in ("get", "post")}
        if any(status >= 500 for status in statuses.values()):
            wrong.append(f"{url} ({route.name}) -> {statuses}")
            continue
        if route.name in AUTHOR_URLS:
            may = role == "annotator"  # the annotator of A wrote the judgment
        elif (minimum := _min_role(route.name)) is not None:
            may = rank[role] >= rank[minimum]
        else:
            continue  # a URL this test does not know yet: only the cross-project rule applies
        opened = any(status not in DENIED for status in statuses.values())
        if may != opened:
            wrong.append(
                f"{url} ({route.name}) as {role}: expected {'open' if may else 'refused'}, got {statuses}"
            )
    assert not wrong, "\n".join(wrong)


def test_anonymous_visitors_are_sent_to_login_or_refused(world: World) -> None:
    client = Client()
    open_routes = []
    for route in ROUTES:
        if route.name in PUBLIC:
            continue
        url = route.url(world.ids["project-b"])
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            to_login = response.status_code == 302 and response["Location"].startswith("/login/")
            if not (to_login or response.status_code in {401, 403, 405}):
                open_routes.append(f"{method.upper()} {url} ({route.name}) -> {response.status_code}")
    assert not open_routes, "\n".join(open_routes)


def test_superusers_act_as_admins_everywhere(world: World) -> None:
    client = _client(UserFactory(username="root", is_superuser=True, is_staff=True))
    assert client.get("/api/projects/project-b/members/").status_code == 200
    assert Membership.objects.filter(user__username="root").count() == 0
