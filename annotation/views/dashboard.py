"""The quality dashboards (reviewers and admins of a project) and the list of them."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from annotation.models import Membership
from annotation.permissions import has_role, project_get_for
from annotation.selectors.quality import project_list_reviewed_by, project_quality_get
from rankwise.errors import ValidationFailed


@login_required
def quality_index(request: HttpRequest) -> HttpResponse:
    projects = project_list_reviewed_by(user=request.user)
    return render(request, "annotation/quality_index.html", {"projects": projects})


@login_required
def project_dashboard(request: HttpRequest, slug: str) -> HttpResponse:
    project = project_get_for(user=request.user, slug=slug, role=Membership.Role.REVIEWER)
    raw_round = request.GET.get("round", "").strip()
    if raw_round and not raw_round.isdigit():
        raise ValidationFailed(
            "round: must be a round number (0, 1, …).",
            details=[{"field": "round", "reason": "must be a whole number from 0"}],
        )
    report = project_quality_get(project=project, round=int(raw_round) if raw_round else None)
    is_admin = has_role(user=request.user, project=project, role=Membership.Role.ADMIN)
    # Admins get the export form with the flagged annotators already left out (one click to check
    # the form, one to download); reviewers cannot export.
    export_without_flagged = snapshot_without_flagged = None
    if report["flagged"] and is_admin:
        query = urlencode([("exclude_annotator", annotator) for annotator in report["flagged"]])
        export_without_flagged = f"{reverse('project-export', args=[project.slug])}?{query}"
        # The fields of the snapshot form (training:snapshots), posted as they are in one click.
        snapshot_without_flagged = {
            "name": f"{project.slug} without flagged annotators, {timezone.now():%Y-%m-%d %H:%M}",
            "exclude_annotator": ",".join(str(annotator) for annotator in report["flagged"]),
        }
    return render(
        request,
        "annotation/dashboard.html",
        {
            "project": project,
            "report": report,
            "attribute_tables": attribute_tables(report),
            "is_admin": is_admin,
            "export_without_flagged": export_without_flagged,
            "snapshot_without_flagged": snapshot_without_flagged,
        },
    )


def attribute_tables(report: dict) -> list[dict]:
    """The report's attribute groups as tables: one per attribute key, one row per value, and one
    column per source model (in the overall leaderboard's order) with that group's win rate."""
    models = [row["model"] for row in report["leaderboard"]]
    tables = []
    for key, groups in report["groups"].items():
        rows = []
        for group in groups:
            by_model = {row["model"]: row for row in group["leaderboard"]}
            rows.append({**group, "cells": [by_model.get(model) for model in models]})
        tables.append({"key": key, "models": models, "rows": rows})
    return tables
