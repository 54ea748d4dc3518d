"""Pages for project admins: the rounds of the loop with one form per step, and the arenas.

The rounds page's forms post to the doors that already exist (generations, snapshots, run launch,
arenas), prefilled for the current round, so each step calls one service and reports errors where
that door always does.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from annotation.models import Membership
from annotation.permissions import project_get_for
from annotation.services.auditing import audit_arena_launch
from rankwise.errors import ValidationFailed
from training import arenas, round_selectors, selectors, services
from training.round_apis import arena_launch_input


@login_required
def round_list(request: HttpRequest, slug: str) -> HttpResponse:
    project = project_get_for(user=request.user, slug=slug, role=Membership.Role.ADMIN)
    services.runs_reap_stale()
    arenas.arenas_refresh(project=project)
    overview = round_selectors.rounds_overview(project=project)
    by_number = {row["round"]: row for row in overview["rounds"]}
    return render(
        request,
        "training/rounds.html",
        {
            "project": project,
            **overview,
            "current_row": by_number[overview["current"]],
            "next_row": by_number[overview["next"]],
            "versions": selectors.model_version_list(project=project).filter(is_reward_model=False),
            "default_model": services.default_model(),
            "snapshot_name": f"{project.slug} round {overview['current']}, {timezone.now():%Y-%m-%d %H:%M}",
        },
    )


@login_required
def arena_list(request: HttpRequest, slug: str) -> HttpResponse:
    """GET: the project's arenas and the launch form; POST: launches an arena."""
    project = project_get_for(user=request.user, slug=slug, role=Membership.Role.ADMIN)
    arenas.arenas_refresh(project=project)
    context = {
        "project": project,
        "arenas": selectors.arena_list(project=project)[:100],
        "versions": selectors.model_version_list(project=project).filter(is_reward_model=False),
        "default_model": services.default_model(),
        "current_round": arenas.project_current_round(project=project),
        "values": request.POST,
        "selected_versions": request.POST.getlist("model_versions"),
    }
    if request.method != "POST":
        return render(request, "training/arenas.html", context)
    data = request.POST.copy()
    # The form takes base models one per line and prompt ids as one text field: "3, 5 8".
    data.setlist(
        "base_models", [line.strip() for line in data.get("base_models", "").splitlines() if line.strip()]
    )
    data.setlist("prompt_ids", data.get("prompt_ids", "").replace(",", " ").split())
    try:
        arena = arenas.arena_launch(
            project=project, created_by=request.user, **arena_launch_input(project=project, raw=data)
        )
    except ValidationFailed as exc:
        return render(request, "training/arenas.html", {**context, "errors": exc.details}, status=400)
    audit_arena_launch(actor=request.user, arena=arena)
    return redirect("training:arena-detail", slug=project.slug, arena_id=arena.pk)


@login_required
def arena_detail(request: HttpRequest, slug: str, arena_id: int) -> HttpResponse:
    project = project_get_for(user=request.user, slug=slug, role=Membership.Role.ADMIN)
    arenas.arenas_refresh(project=project)
    arena = selectors.arena_get(project=project, arena_id=arena_id)
    return render(
        request,
        "training/arena.html",
        {"project": project, "arena": arena, "standing": round_selectors.arena_standing(arena=arena)},
    )
