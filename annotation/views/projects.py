"""Project admin pages: the list of projects one administers, create, settings and members."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.forms import Form
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from annotation.forms import MemberAttributesForm, MemberForm, ProjectCreateForm, ProjectSettingsForm
from annotation.models import Membership, Project
from annotation.permissions import project_get_for
from annotation.selectors import projects as project_selectors
from annotation.services.projects import (
    SHAPE_FIELDS,
    membership_attributes_set,
    membership_remove,
    membership_set,
    project_create,
    project_update,
)
from rankwise.errors import NotAllowed, NotFound, RankwiseError


@login_required
def project_manage_list(request: HttpRequest) -> HttpResponse:
    projects = project_selectors.project_list_administered_by(user=request.user)
    return render(request, "annotation/project_manage_list.html", {"projects": projects})


@login_required
def project_create_view(request: HttpRequest) -> HttpResponse:
    if not request.user.is_superuser:
        raise NotAllowed("Only superusers create projects.")
    form = ProjectCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            project = project_create(
                name=form.cleaned_data["name"],
                slug=form.cleaned_data["slug"],
                created_by=request.user,
                admins=[request.user],
                **form.settings(),
            )
        except RankwiseError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, f"Project {project.name} created. Import data next.")
            return redirect("project-import", slug=project.slug)
    return render(request, "annotation/project_create.html", {"form": form})


@login_required
def project_settings(request: HttpRequest, slug: str) -> HttpResponse:
    project = project_get_for(user=request.user, slug=slug, role=Membership.Role.ADMIN)
    form = _settings_form(project, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            updated = project_update(
                project=project, actor=request.user, name=form.cleaned_data["name"], **form.settings()
            )
        except RankwiseError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, "Settings saved.")
            if {"queue_order", "queue_model_version"} & set(form.changed_data):
                messages.info(
                    request,
                    f"The queue is being re-ranked for the {updated.queue_order} order in the "
                    "background; until then it keeps its order. This page shows how far it is.",
                )
            return redirect("project-settings", slug=project.slug)
    return _settings_page(request, project=project, form=form, member_form=MemberForm())


@login_required
@require_POST
def project_member_save(request: HttpRequest, slug: str) -> HttpResponse:
    project = project_get_for(user=request.user, slug=slug, role=Membership.Role.ADMIN)
    member_form = MemberForm(request.POST)
    if member_form.is_valid():
        user = get_user_model().objects.filter(username=member_form.cleaned_data["username"]).first()
        if user is None:
            member_form.add_error("username", "No user with this username.")
        else:
            try:
                membership_set(
                    actor=request.user, project=project, user=user, role=member_form.cleaned_data["role"]
                )
            except RankwiseError as exc:
                _add_errors(member_form, exc)
            else:
                messages.success(request, f"{user.username} is now {member_form.cleaned_data['role']}.")
                return redirect("project-settings", slug=project.slug)
    form = _settings_form(project)
    return _settings_page(request, project=project, form=form, member_form=member_form, status=400)


@login_required
@require_POST
def project_member_remove(request: HttpRequest, slug: str, user_id: int) -> HttpResponse:
    project = project_get_for(user=request.user, slug=slug, role=Membership.Role.ADMIN)
    user = get_user_model().objects.filter(pk=user_id).first()
    if user is not None:
        membership_remove(actor=request.user, project=project, user=user)
        messages.success(request, f"{user.username} was removed from the project.")
    return redirect("project-settings", slug=project.slug)


@login_required
@require_POST
def project_member_attributes(request: HttpRequest, slug: str, user_id: int) -> HttpResponse:
    project = project_get_for(user=request.user, slug=slug, role=Membership.Role.ADMIN)
    membership = project_selectors.membership_list(project=project).filter(user_id=user_id).first()
    if membership is None:
        raise NotFound("This user is not a member of this project.")
    attributes_form = MemberAttributesForm(request.POST, auto_id=_attributes_id(membership.user_id))
    if attributes_form.is_valid():
        try:
            membership = membership_attributes_set(
                actor=request.user,
                project=project,
                user=membership.user,
                attributes=attributes_form.cleaned_data["attributes"],
            )
        except RankwiseError as exc:
            _add_errors(attributes_form, exc)
        else:
            messages.success(request, f"Attributes of {membership.user.username} saved.")
            return redirect("project-settings", slug=project.slug)
    return _settings_page(
        request,
        project=project,
        form=_settings_form(project),
        member_form=MemberForm(),
        attributes_form=(membership.user_id, attributes_form),
        status=400,
    )


def _settings_page(
    request: HttpRequest,
    *,
    project: Project,
    form: Form,
    member_form: Form,
    attributes_form: tuple[int, Form] | None = None,
    status: int = 200,
) -> HttpResponse:
    """The settings and members page; `attributes_form` is (user id, a refused attributes form) to
    show again on that member's row with its errors."""
    memberships = list(project_selectors.membership_list(project=project))
    for membership in memberships:
        if attributes_form is not None and attributes_form[0] == membership.user_id:
            membership.attributes_form = attributes_form[1]
        else:
            membership.attributes_form = MemberAttributesForm(
                initial={"attributes": MemberAttributesForm.text(membership.attributes or {})},
                auto_id=_attributes_id(membership.user_id),
            )
    context = {
        "project": project,
        "form": form,
        "member_form": member_form,
        "memberships": memberships,
        "has_comparisons": project.comparisons.exists(),
        "queue": project_selectors.queue_state(project=project),
    }
    return render(request, "annotation/project_settings.html", context, status=status)


def _attributes_id(user_id: int) -> str:
    """Element ids of one member's attributes form: one form per row, so ids must not repeat."""
    return f"id_member{user_id}_%s"


def _settings_form(project: Project, data: QueryDict | None = None) -> ProjectSettingsForm:
    form = ProjectSettingsForm(data, instance=project)
    if project.comparisons.exists():
        # Comparisons were built under these; the service refuses changes, the form shows them fixed.
        for field in SHAPE_FIELDS:
            form.fields[field].disabled = True
    return form


def _add_errors(form: Form, exc: RankwiseError) -> None:
    """A service's refusal as form errors: on the field it names when the form has it."""
    if not exc.details:
        form.add_error(None, exc.message)
    for detail in exc.details:
        field = detail.get("field")
        form.add_error(field if field in form.fields else None, detail["reason"])
