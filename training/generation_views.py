"""Generation pages for project admins: launch form and list, a job's live page, cancel."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from annotation.errors import NotFound, ValidationFailed
from annotation.models import Membership, Project
from annotation.permissions import project_get_for
from training import generating, selectors
from training.models import GenerationJob
from training.services import default_model


def _admin_project(request: HttpRequest, slug: str) -> Project:
    return project_get_for(user=request.user, slug=slug, role=Membership.Role.ADMIN)


def _job_get(project: Project, job_id: int) -> GenerationJob:
    job = GenerationJob.objects.filter(project=project, pk=job_id).select_related("model_version").first()
    if job is None:
        raise NotFound(f"No generation {job_id} in this project.")
    return job


def _int(raw: dict, name: str, default: int | None) -> int | None:
    value = (raw.get(name) or "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise ValidationFailed(
            f"{name}: not an integer.", details=[{"line": None, "field": name, "reason": "not an integer"}]
        ) from None


def _float(raw: dict, name: str, default: float) -> float:
    value = (raw.get(name) or "").strip()
    try:
        return float(value) if value else default
    except ValueError:
        raise ValidationFailed(
            f"{name}: not a number.", details=[{"line": None, "field": name, "reason": "not a number"}]
        ) from None


def _launch_input(project: Project, raw: dict) -> dict:
    """The launch form's fields as generation_launch arguments; raises ValidationFailed."""
    source = raw.get("source", "base")
    version = None
    if source == "version":
        version = (
            selectors.model_version_list(project=project).filter(pk=_int(raw, "model_version", 0)).first()
        )
        if version is None:
            raise ValidationFailed(
                "Choose a model version.",
                details=[{"line": None, "field": "model_version", "reason": "no such model version"}],
            )
    ids = [int(v) for v in (raw.get("prompt_ids") or "").replace(",", " ").split() if v.isdigit()]
    return {
        "model_version": version,
        "base_model": raw.get("base_model", "") if source == "base" else "",
        "use_endpoint": source == "endpoint",
        "endpoint_model": raw.get("endpoint_model", "") if source == "endpoint" else "",
        "k": _int(raw, "k", 2),
        "temperature": _float(raw, "temperature", 1.0),
        "top_p": _float(raw, "top_p", 1.0),
        "max_new_tokens": _int(raw, "max_new_tokens", 128),
        "batch_size": _int(raw, "batch_size", 8),
        "seed": _int(raw, "seed", 0),
        "prompt_ids": ids,
        "prompt_round": _int(raw, "prompt_round", None),
        "limit": _int(raw, "limit", None),
        "round": _int(raw, "round", 0),
    }


@login_required
def generation_list(request: HttpRequest, slug: str) -> HttpResponse:
    """GET: the project's generation jobs and the launch form; POST: launches a job."""
    project = _admin_project(request, slug)
    generating.generations_reap_stale()
    context = {
        "project": project,
        "jobs": GenerationJob.objects.filter(project=project).select_related("model_version", "created_by")[
            :100
        ],
        "versions": selectors.model_version_list(project=project).filter(is_reward_model=False),
        "default_model": default_model(),
        "endpoint_base_url": settings.RANKWISE_OPENAI_BASE_URL,
        "endpoint_model": settings.RANKWISE_OPENAI_MODEL,
        "values": request.POST,
    }
    if request.method != "POST":
        return render(request, "training/generations.html", context)
    try:
        job = generating.generation_launch(
            project=project, created_by=request.user, **_launch_input(project, request.POST)
        )
    except ValidationFailed as exc:
        return render(request, "training/generations.html", {**context, "errors": exc.details}, status=400)
    return redirect("training:generation-detail", slug=project.slug, job_id=job.pk)


def _job_state(job: GenerationJob) -> dict:
    return {
        "id": job.pk,
        "status": job.status,
        "prompts_total": job.prompts_total,
        "prompts_done": job.prompts_done,
        "progress": job.progress,
        "candidates_created": job.candidates_created,
        "comparisons_created": job.comparisons_created,
        "prompt_errors": job.prompt_errors,
        "error": job.error,
        "is_finished": job.is_finished,
    }


@login_required
def generation_detail(request: HttpRequest, slug: str, job_id: int) -> HttpResponse:
    project = _admin_project(request, slug)
    generating.generations_reap_stale()
    job = _job_get(project, job_id)
    if request.GET.get("format") == "json":
        return JsonResponse(_job_state(job))
    return render(request, "training/generation.html", {"project": project, "job": job})


@login_required
@require_POST
def generation_cancel(request: HttpRequest, slug: str, job_id: int) -> HttpResponse:
    project = _admin_project(request, slug)
    generating.generation_cancel(job=_job_get(project, job_id))
    return redirect("training:generation-detail", slug=project.slug, job_id=job_id)
