"""Who may do what in a project: the one place pages, the API and commands ask.

Roles are ordered: an admin can do what a reviewer can, and a reviewer what an annotator can.
Superusers act as admins everywhere. Lookups for projects a user does not belong to raise
NotFound, so ids of other projects cannot be probed.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.views import APIView

from annotation.models import Membership, Project
from rankwise import rows
from rankwise.errors import NotAllowed, NotFound

_RANK = {Membership.Role.ANNOTATOR: 1, Membership.Role.REVIEWER: 2, Membership.Role.ADMIN: 3}


def project_role(*, user: AbstractBaseUser | AnonymousUser, project: Project) -> str | None:
    """The user's role in the project ("admin" for superusers), or None for non-members."""
    if not user.is_authenticated:
        return None
    if user.is_superuser:
        return Membership.Role.ADMIN
    return Membership.objects.filter(project=project, user=user).values_list("role", flat=True).first()


def has_role(*, user: AbstractBaseUser | AnonymousUser, project: Project, role: str) -> bool:
    current = project_role(user=user, project=project)
    return current is not None and _RANK[current] >= _RANK[role]


def project_get_for(
    *, user: AbstractBaseUser | AnonymousUser, slug: str, role: str = Membership.Role.ANNOTATOR
) -> Project:
    """The project with this slug if the user holds at least `role` in it.

    Raises NotFound when the project does not exist or the user is not a member, and NotAllowed
    when the user is a member with a lesser role.
    """
    # Hand-written SQL: every door calls this, and building the ORM query cost more than running it.
    member_role = "NULL"
    params: list[object] = [slug]
    if user.is_authenticated:
        member_role = (
            f"(SELECT m.role FROM {Membership._meta.db_table} m WHERE m.project_id = p.id AND m.user_id = %s)"
        )
        params.insert(0, user.pk)
    found = rows.instances(
        Project,
        f"SELECT {rows.columns(Project, 'p')}, {member_role}"
        f" FROM {Project._meta.db_table} p WHERE p.slug = %s",
        params,
    )
    current = None
    if found:
        [(project, (member,))] = found
        current = Membership.Role.ADMIN if user.is_superuser else member
    if current is None:
        raise NotFound(f"No project {slug!r}.")
    if _RANK[current] < _RANK[role]:
        raise NotAllowed(f"This needs the {role} role in project {project.name!r}.")
    return project


class ProjectRole(BasePermission):
    """DRF permission of the API views under /projects/<slug>/ (after IsAuthenticated): the user needs
    the view's `project_role` (annotator by default), or `project_roles[method]` where the methods
    differ. Refuses as project_get_for does (404 for non-members, 403 for a lesser role) and leaves
    the project as `view.project` for the handler."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        method = "GET" if request.method == "HEAD" else request.method
        role = getattr(view, "project_roles", {}).get(method) or getattr(
            view, "project_role", Membership.Role.ANNOTATOR
        )
        view.project = project_get_for(user=request.user, slug=view.kwargs["slug"], role=role)
        return True


class ProjectApi(APIView):
    """An API view under /projects/<slug>/: signed in, with the view's project_role (ProjectRole)."""

    permission_classes = [IsAuthenticated, ProjectRole]


def model_names_hidden(*, project: Project, arena: bool, privileged: bool = False) -> bool:
    """Whether a reader sees no model names on a comparison: annotators don't where the project
    hides them, nor ever in an arena battle (the name would give the answer away); reviewers and
    admins (privileged) always see them."""
    return (project.hides_model_names or arena) and not privileged
