"""Generation pages for project admins: launch form and list, a job's live page, cancel."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from annotation.models import Membership
from annotation.permissions import project_get_for
from rankwise.errors import ValidationFailed
from training.selectors.generation import generation_get, generation_list
from training.selectors.runs import model_version_list
from training.serializers import generation_launch_input
from training.services.engine import default_model
from training.services.generation import generation_cancel, generation_launch


@login_required
def generation_list_page(request: HttpRequest, slug: str) -> HttpResponse:
    """GET: the project's generation jobs and the launch form; POST: launches a job."""
    project = project_get_for(user=request.user, slug=slug, role=Membership.Role.ADMIN)
    context = {
        "project": project,
        "jobs": generation_list(project=project)[:100],
        "versions": model_version_list(project=project).filter(is_reward_model=False),
        "default_model": default_model(),
        "endpoint_base_url": settings.RANKWISE_OPENAI_BASE_URL,
        "endpoint_model": settings.RANKWISE_OPENAI_MODEL,
        "values": request.POST,
    }
    if request.method != "POST":
        return render(request, "training/generations.html", context)
    data = request.POST.copy()
    # The form takes prompt ids as one text field: "3, 5 8".
    data.setlist("prompt_ids", data.get("prompt_ids", "").replace(",", " ").split())
    try:
        job = generation_launch(
            project=project, created_by=request.user, spec=generation_launch_input(project=project, raw=data)
        )
    except ValidationFailed as exc:
        return render(request, "training/generations.html", {**context, "errors": exc.details}, status=400)
    return redirect("training:generation-detail", slug=project.slug, job_id=job.pk)


@login_required
def generation_detail_page(request: HttpRequest, slug: str, job_id: int) -> HttpResponse:
    project = project_get_for(user=request.user, slug=slug, role=Membership.Role.ADMIN)
    job = generation_get(project=project, job_id=job_id)
    return render(request, "training/generation.html", {"project": project, "job": job})


@login_required
@require_POST
def generation_cancel_page(request: HttpRequest, slug: str, job_id: int) -> HttpResponse:
    project = project_get_for(user=request.user, slug=slug, role=Membership.Role.ADMIN)
    generation_cancel(job=generation_get(project=project, job_id=job_id))
    return redirect("training:generation-detail", slug=project.slug, job_id=job_id)
