"""The export page: project admins pick a kind, a format and filters, and download the file."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render

from annotation.downloads import export_response
from annotation.models import Membership
from annotation.permissions import project_get_for
from annotation.services import exporting
from rankwise.errors import ValidationFailed


@login_required
def project_export(request: HttpRequest, slug: str) -> HttpResponse | StreamingHttpResponse:
    project = project_get_for(user=request.user, slug=slug, role=Membership.Role.ADMIN)
    context = {
        "project": project,
        "members": project.memberships.select_related("user").order_by("user__username"),
        "choices": {
            "kind": exporting.KINDS,
            "format": exporting.FILE_FORMATS,
            "ranking_pairs": exporting.RANKING_PAIRS,
            "ties": exporting.TIES,
            "aggregate": exporting.AGGREGATES,
        },
        "values": request.GET,
        "selected": {name: request.GET.getlist(name) for name in ("annotator", "exclude_annotator")},
    }
    if "download" not in request.GET:
        return render(request, "annotation/export.html", context)
    params = {name: values for name, values in request.GET.lists() if name != "download"}
    try:
        spec = exporting.export_spec_parse(params=params)
    except ValidationFailed as exc:
        return render(request, "annotation/export.html", {**context, "errors": exc.details}, status=400)
    chunks = exporting.export_chunks(projects=[project], spec=spec, actor=request.user)
    return export_response(
        project_slug=project.slug, chunks=chunks, kind=spec.kind, file_format=spec.file_format
    )
