"""The landing page: my projects, each with my queue."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from annotation import selectors


@login_required
def home(request: HttpRequest) -> HttpResponse:
    projects = selectors.project_list_for_user(user=request.user)
    # A few queries per project: annotators belong to a handful of projects.
    rows = [
        (project, selectors.queue_counts(project=project, annotator=request.user)) for project in projects
    ]
    return render(request, "annotation/home.html", {"projects": projects, "rows": rows})
