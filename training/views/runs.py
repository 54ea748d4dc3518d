"""Run pages: list, launch, detail, cancel, retry, downloads and comparison."""

from __future__ import annotations

import json
import tempfile
import zipfile
from pathlib import Path

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from annotation.models import Membership
from annotation.permissions import project_get_for
from rankwise.errors import ValidationFailed
from training.models import Method, Run
from training.selectors.runs import artifact_path, model_directory, model_version_list, run_get, run_list
from training.selectors.snapshots import snapshot_list
from training.serializers import run_detail, run_launch_input
from training.services.engine import default_model
from training.services.runs import run_cancel, run_launch, run_retry


@login_required
def run_list_page(request: HttpRequest, slug: str) -> HttpResponse:
    project = project_get_for(user=request.user, slug=slug, role=Membership.Role.ADMIN)
    status, method = request.GET.get("status", ""), request.GET.get("method", "")
    return render(
        request,
        "training/runs.html",
        {
            "project": project,
            "runs": run_list(project=project, status=status, method=method)[:200],
            "statuses": Run.Status.choices,
            "methods": Method.choices,
            "status": status,
            "method": method,
        },
    )


@login_required
def run_launch_page(request: HttpRequest, slug: str) -> HttpResponse:
    """GET: the launch form (hyperparameters prefilled by the page's script); POST: launches."""
    project = project_get_for(user=request.user, slug=slug, role=Membership.Role.ADMIN)
    versions = model_version_list(project=project)
    context = {
        "project": project,
        "methods": Method.choices,
        "snapshots": snapshot_list(project=project).filter(status="ready"),
        "versions": versions,
        "reward_versions": [v for v in versions if v.is_reward_model],
        "default_model": default_model(),
        "precisions": ("auto", "fp32", "bf16", "fp16"),
        "devices": ("auto", "cpu", "cuda"),
        # A GET with fields (the rounds page's "adjust first" links) prefills the form.
        "values": request.POST or request.GET,
    }
    if request.method != "POST":
        return render(request, "training/run_launch.html", context)
    data = request.POST.copy()
    data.setlist(
        "sample_prompts", [line for line in data.get("sample_prompts", "").splitlines() if line.strip()]
    )
    try:
        run = run_launch(
            project=project, launched_by=request.user, spec=run_launch_input(project=project, raw=data)
        )
    except ValidationFailed as exc:
        return render(request, "training/run_launch.html", {**context, "errors": exc.details}, status=400)
    return redirect("training:run-detail", slug=project.slug, run_id=run.pk)


@login_required
def run_detail_page(request: HttpRequest, slug: str, run_id: int) -> HttpResponse:
    project = project_get_for(user=request.user, slug=slug, role=Membership.Role.ADMIN)
    run = run_get(project=project, run_id=run_id)
    detail = run_detail(run)
    return render(
        request,
        "training/run.html",
        {
            "project": project,
            "run": run,
            "detail": detail,
            "spec_json": json.dumps(run.spec, indent=2),
        },
    )


@login_required
@require_POST
def run_cancel_page(request: HttpRequest, slug: str, run_id: int) -> HttpResponse:
    project = project_get_for(user=request.user, slug=slug, role=Membership.Role.ADMIN)
    run_cancel(run=run_get(project=project, run_id=run_id))
    return redirect("training:run-detail", slug=project.slug, run_id=run_id)


@login_required
@require_POST
def run_retry_page(request: HttpRequest, slug: str, run_id: int) -> HttpResponse:
    project = project_get_for(user=request.user, slug=slug, role=Membership.Role.ADMIN)
    run_retry(run=run_get(project=project, run_id=run_id))
    return redirect("training:run-detail", slug=project.slug, run_id=run_id)


@login_required
def artifact_download_page(request: HttpRequest, slug: str, run_id: int, artifact_id: int) -> FileResponse:
    project = project_get_for(user=request.user, slug=slug, role=Membership.Role.ADMIN)
    path = artifact_path(run=run_get(project=project, run_id=run_id), artifact_id=artifact_id)
    return FileResponse(path.open("rb"), as_attachment=True, filename=path.name)


@login_required
def model_download_page(request: HttpRequest, slug: str, run_id: int) -> FileResponse:
    """The run's final/ directory (the adapter, or the model) as one zip file."""
    project = project_get_for(user=request.user, slug=slug, role=Membership.Role.ADMIN)
    final = model_directory(run=run_get(project=project, run_id=run_id))
    # Spooled to disk past 64 MiB: adapters are small, merged models are not. Stored, not deflated:
    # weights barely compress and deflating gigabytes would hold the request for minutes.
    archive = tempfile.SpooledTemporaryFile(max_size=64 * 1024 * 1024)
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED) as zipped:
        for path in sorted(final.rglob("*")):
            if path.is_file():
                zipped.write(path, arcname=str(Path("final") / path.relative_to(final)))
    archive.seek(0)
    return FileResponse(archive, as_attachment=True, filename=f"run-{run_id}-model.zip")


@login_required
def run_compare_page(request: HttpRequest, slug: str) -> HttpResponse:
    """Overlays the curves of the runs named by ?run=<id>&run=<id>..."""
    project = project_get_for(user=request.user, slug=slug, role=Membership.Role.ADMIN)
    ids = [int(v) for v in request.GET.getlist("run") if v.isdigit()]
    runs = list(run_list(project=project).filter(pk__in=ids).order_by("pk"))
    return render(
        request,
        "training/compare.html",
        {
            "project": project,
            "runs": runs,
            "all_runs": run_list(project=project)[:100],
        },
    )
