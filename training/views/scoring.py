"""The scores page for project admins: a reward model's scores beside the human judgments, the scoring
jobs (polled while they run) and the launch form; cancel."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from annotation.models import Membership
from annotation.permissions import project_get_for
from rankwise.errors import ValidationFailed
from training.models import ScoringJob
from training.selectors.runs import reward_version_list
from training.selectors.scoring import scoring_get, scoring_list
from training.serializers import score_report_for, scoring_launch_input
from training.services.scoring import scoring_cancel, scoring_launch


@login_required
def score_list_page(request: HttpRequest, slug: str) -> HttpResponse:
    """GET: the report of one reward model version (?model_version=, else the queue's or the newest), the
    jobs and the launch form; POST: launches a job."""
    project = project_get_for(user=request.user, slug=slug, role=Membership.Role.ADMIN)
    versions = list(reward_version_list(project=project))
    errors: list[dict] = []
    if request.method == "POST":
        try:
            job = scoring_launch(
                project=project,
                created_by=request.user,
                spec=scoring_launch_input(project=project, raw=request.POST),
            )
        except ValidationFailed as exc:
            errors = exc.details
        else:
            url = reverse("training:scores", args=[project.slug])
            return redirect(f"{url}?model_version={job.model_version_id}")
    chosen = (
        request.GET.get("model_version")
        or project.queue_model_version_id
        or (versions[0].pk if versions else None)
    )
    report, report_errors = None, []
    if chosen:
        try:
            report = score_report_for(project=project, raw={"model_version": chosen, "limit": 100})
        except ValidationFailed as exc:
            report_errors = exc.details
    context = {
        "project": project,
        "versions": versions,
        "chosen": report.model_version.pk if report else None,
        "report": report,
        "report_errors": report_errors,
        "jobs": scoring_list(project=project)[:50],
        "selections": ScoringJob.Selection.choices,
        "errors": errors,
        "values": request.POST,
    }
    return render(request, "training/scores.html", context, status=400 if errors or report_errors else 200)


@login_required
@require_POST
def scoring_cancel_page(request: HttpRequest, slug: str, job_id: int) -> HttpResponse:
    project = project_get_for(user=request.user, slug=slug, role=Membership.Role.ADMIN)
    job = scoring_cancel(job=scoring_get(project=project, job_id=job_id))
    url = reverse("training:scores", args=[project.slug])
    return redirect(f"{url}?model_version={job.model_version_id}")
