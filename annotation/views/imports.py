"""The import page: project admins upload a JSONL file and see the counts or the error report."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from annotation.forms import ImportForm
from annotation.models import Membership
from annotation.permissions import project_get_for
from annotation.selectors import projects as project_selectors
from annotation.services.importing import data_import, upload_size_check
from rankwise.errors import ValidationFailed


@login_required
def project_import(request: HttpRequest, slug: str) -> HttpResponse:
    project = project_get_for(user=request.user, slug=slug, role=Membership.Role.ADMIN)
    if request.method == "POST":
        # Refuse an oversized body before it is read; the multipart framing adds a little.
        upload_size_check(size=int(request.META.get("CONTENT_LENGTH") or 0) - 64 * 1024)
    form = ImportForm(request.POST or None, request.FILES or None)
    batch = error = None
    status = 200
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            upload_size_check(size=upload.size)
            batch = data_import(
                project=project,
                file=upload,
                file_name=upload.name or "upload.jsonl",
                format=form.cleaned_data["format"] or "auto",
                as_judgments=form.cleaned_data["as_judgments"],
                created_by=request.user,
            )
        except ValidationFailed as exc:
            error, status = exc, 400
    elif request.method == "POST":
        status = 400
    context = {
        "project": project,
        "form": form,
        "batch": batch,
        "error": error,
        "batches": project_selectors.import_batch_list(project=project),
        "max_upload_bytes": settings.RANKWISE_MAX_UPLOAD_BYTES,
    }
    return render(request, "annotation/project_import.html", context, status=status)
