"""The annotator's pages: annotate, history (with edits inside the window), guidelines."""

from __future__ import annotations

from datetime import timedelta
from string import ascii_uppercase

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from annotation.models import Judgment, Project
from annotation.permissions import project_get_for
from annotation.rendering import markdown_render
from annotation.selectors import annotating as selectors
from rankwise.errors import NotFound


def _page_config(project: Project, judgment_id: int | None = None) -> dict:
    slug = project.slug
    return {
        "mode": project.mode,
        "next_url": reverse("api:item-next", args=[slug]),
        "submit_url": reverse("api:judgment-submit", args=[slug]),
        "skip_url": reverse("api:assignment-skip", args=[slug]),
        "judgment_url": reverse("api:judgment-detail", args=[slug, judgment_id]) if judgment_id else None,
        "history_url": reverse("history", args=[slug]),
    }


@login_required
def annotate(request: HttpRequest, slug: str) -> HttpResponse:
    project = project_get_for(user=request.user, slug=slug)
    return render(request, "annotation/annotate.html", {"project": project, "config": _page_config(project)})


@login_required
def judgment_edit(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    project = project_get_for(user=request.user, slug=slug)
    judgment = selectors.judgment_item(project=project, judgment_id=pk)
    if judgment is None or judgment.annotator_id != request.user.pk:
        raise NotFound("No such judgment of yours in this project.")
    return render(
        request,
        "annotation/annotate.html",
        {"project": project, "config": _page_config(project, judgment.pk), "editing": judgment},
    )


def answer_summary(*, judgment: Judgment, mode: str) -> str:
    """The answer in the labels the annotator saw: "B better (clearly)", "tie", "3 > 1 = 4 > 2"."""
    shown = judgment.presented_order or [cid for tier in judgment.ordering for cid in tier]
    pairwise = mode == Project.Mode.PAIRWISE
    labels = {cid: (ascii_uppercase[i] if pairwise else str(i + 1)) for i, cid in enumerate(shown)}
    if pairwise:
        if judgment.is_tie:
            return "both bad" if "both_bad" in judgment.flags else "tie"
        strength = f" ({judgment.strength})" if judgment.strength else ""
        return f"{labels.get(judgment.ordering[0][0], '?')} better{strength}"
    return " > ".join(" = ".join(labels.get(cid, "?") for cid in tier) for tier in judgment.ordering)


@login_required
def history(request: HttpRequest, slug: str) -> HttpResponse:
    project = project_get_for(user=request.user, slug=slug)
    judgments = selectors.judgment_list_for_annotator(project=project, annotator=request.user)
    page = Paginator(judgments, 50).get_page(request.GET.get("page"))
    editable_since = timezone.now() - timedelta(minutes=project.edit_window_minutes)
    rows = [
        (judgment, answer_summary(judgment=judgment, mode=project.mode), judgment.created_at > editable_since)
        for judgment in page
    ]
    return render(request, "annotation/history.html", {"project": project, "page": page, "rows": rows})


@login_required
def guidelines(request: HttpRequest, slug: str) -> HttpResponse:
    project = project_get_for(user=request.user, slug=slug)
    return render(
        request,
        "annotation/guidelines.html",
        {"project": project, "guidelines_html": markdown_render(project.guidelines)},
    )
