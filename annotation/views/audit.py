"""The audit page: a project's imports, exports, run launches and role changes, for its admins."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from annotation.models import AuditEvent, Membership
from annotation.permissions import project_get_for
from annotation.selectors import data as api_selectors


@login_required
def project_audit(request: HttpRequest, slug: str) -> HttpResponse:
    project = project_get_for(user=request.user, slug=slug, role=Membership.Role.ADMIN)
    action = request.GET.get("action", "")
    if action not in AuditEvent.Action.values:
        action = ""
    page = Paginator(api_selectors.audit_event_list(project=project, action=action), 50).get_page(
        request.GET.get("page")
    )
    context = {"project": project, "page": page, "action": action, "actions": AuditEvent.Action.choices}
    return render(request, "annotation/audit.html", context)
