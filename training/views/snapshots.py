"""Snapshot pages."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from annotation.models import Membership
from annotation.permissions import project_get_for
from annotation.services import exporting
from rankwise.errors import ValidationFailed
from training.models import DatasetSnapshot
from training.selectors.snapshots import snapshot_get, snapshot_list
from training.serializers import snapshot_input
from training.services.snapshots import SNAPSHOT_FILTERS, SNAPSHOT_KINDS, snapshot_queue, snapshot_retry


@login_required
def snapshot_list_page(request: HttpRequest, slug: str) -> HttpResponse:
    """GET: the snapshots and a form; POST: freezes a new snapshot."""
    project = project_get_for(user=request.user, slug=slug, role=Membership.Role.ADMIN)
    snapshots = list(snapshot_list(project=project))
    context = {
        "project": project,
        "snapshots": snapshots,
        # The page reloads itself while a worker builds a snapshot.
        "building": any(s.status == DatasetSnapshot.Status.BUILDING for s in snapshots),
        "choices": {
            "kind": SNAPSHOT_KINDS,
            "ranking_pairs": exporting.RANKING_PAIRS,
            "ties": exporting.TIES,
            "aggregate": exporting.AGGREGATES,
        },
        "values": request.POST,
    }
    if request.method != "POST":
        return render(request, "training/snapshots.html", context)
    filters = {name: request.POST.get(name, "") for name in SNAPSHOT_FILTERS if request.POST.get(name)}
    raw = {
        "name": request.POST.get("name", ""),
        "filters": filters,
        "split_seed": request.POST.get("split_seed") or 0,
        "eval_fraction": request.POST.get("eval_fraction") or 0.1,
    }
    try:
        snapshot_queue(spec=snapshot_input(request, project, raw), created_by=request.user)
    except ValidationFailed as exc:
        return render(request, "training/snapshots.html", {**context, "errors": exc.details}, status=400)
    return redirect("training:snapshots", slug=project.slug)


@login_required
@require_POST
def snapshot_retry_page(request: HttpRequest, slug: str, snapshot_id: int) -> HttpResponse:
    project = project_get_for(user=request.user, slug=slug, role=Membership.Role.ADMIN)
    snapshot_retry(snapshot=snapshot_get(project=project, snapshot_id=snapshot_id))
    return redirect("training:snapshots", slug=project.slug)
