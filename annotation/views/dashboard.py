"""The project quality dashboard (reviewers and admins of the project)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from annotation.models import Membership
from annotation.permissions import project_get_for
from annotation.quality_selectors import project_quality_get


@login_required
def project_dashboard(request: HttpRequest, slug: str) -> HttpResponse:
    project = project_get_for(user=request.user, slug=slug, role=Membership.Role.REVIEWER)
    report = project_quality_get(project=project)
    return render(request, "annotation/dashboard.html", {"project": project, "report": report})
