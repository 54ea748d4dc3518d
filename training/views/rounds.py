"""The rounds page."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from annotation.models import Membership
from annotation.permissions import project_get_for
from training.selectors.rounds import rounds_overview
from training.selectors.runs import model_version_list
from training.services.engine import default_model


@login_required
def round_list_page(request: HttpRequest, slug: str) -> HttpResponse:
    project = project_get_for(user=request.user, slug=slug, role=Membership.Role.ADMIN)
    overview = rounds_overview(project=project)
    by_number = {row["round"]: row for row in overview["rounds"]}
    return render(
        request,
        "training/rounds.html",
        {
            "project": project,
            **overview,
            "current_row": by_number[overview["current"]],
            "next_row": by_number[overview["next"]],
            "versions": model_version_list(project=project).filter(is_reward_model=False),
            "default_model": default_model(),
            "snapshot_name": f"{project.slug} round {overview['current']}, {timezone.now():%Y-%m-%d %H:%M}",
        },
    )
