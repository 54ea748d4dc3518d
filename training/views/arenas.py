"""Arena pages."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from annotation.models import Membership
from annotation.permissions import project_get_for
from rankwise.errors import ValidationFailed
from training.selectors.arenas import arena_get, arena_list, arena_standing
from training.selectors.runs import model_version_list
from training.serializers import arena_launch_input
from training.services.arenas import arena_launch, project_current_round
from training.services.engine import default_model


@login_required
def arena_list_page(request: HttpRequest, slug: str) -> HttpResponse:
    """GET: the project's arenas and the launch form; POST: launches an arena."""
    project = project_get_for(user=request.user, slug=slug, role=Membership.Role.ADMIN)
    context = {
        "project": project,
        "arenas": arena_list(project=project)[:100],
        "versions": model_version_list(project=project).filter(is_reward_model=False),
        "default_model": default_model(),
        "current_round": project_current_round(project=project),
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
        arena = arena_launch(
            project=project, created_by=request.user, spec=arena_launch_input(project=project, raw=data)
        )
    except ValidationFailed as exc:
        return render(request, "training/arenas.html", {**context, "errors": exc.details}, status=400)
    return redirect("training:arena-detail", slug=project.slug, arena_id=arena.pk)


@login_required
def arena_detail_page(request: HttpRequest, slug: str, arena_id: int) -> HttpResponse:
    project = project_get_for(user=request.user, slug=slug, role=Membership.Role.ADMIN)
    arena = arena_get(project=project, arena_id=arena_id)
    return render(
        request,
        "training/arena.html",
        {"project": project, "arena": arena, "standing": arena_standing(arena=arena)},
    )
