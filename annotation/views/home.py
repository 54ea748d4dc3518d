"""The landing page: my projects, each with my queue and the project pages my role opens."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from annotation.models import Membership
from annotation.permissions import has_role
from annotation.selectors import annotating as selectors


@login_required
def home(request: HttpRequest) -> HttpResponse:
    projects = selectors.project_list_for_user(user=request.user)
    # A few queries per project: people belong to a handful of projects.
    rows = [
        {
            "project": project,
            "counts": selectors.queue_counts(project=project, annotator=request.user),
            "reviews": has_role(user=request.user, project=project, role=Membership.Role.REVIEWER),
            "administers": has_role(user=request.user, project=project, role=Membership.Role.ADMIN),
        }
        for project in projects
    ]
    return render(request, "annotation/home.html", {"projects": projects, "rows": rows})
