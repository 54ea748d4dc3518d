"""Who may do what in a project: the one place pages, the API and commands ask.

Roles are ordered: an admin can do what a reviewer can, and a reviewer what an annotator can.
Superusers act as admins everywhere. Lookups for projects a user does not belong to raise
NotFound, so ids of other projects cannot be probed.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import CharField, OuterRef, Subquery, Value

from annotation.errors import NotAllowed, NotFound
from annotation.models import Membership, Project

_RANK = {Membership.Role.ANNOTATOR: 1, Membership.Role.REVIEWER: 2, Membership.Role.ADMIN: 3}


def project_role(*, user: AbstractBaseUser | AnonymousUser, project: Project) -> str | None:
    """The user's role in the project ("admin" for superusers), or None for non-members."""
    if not user.is_authenticated:
        return None
    if user.is_superuser:
        return Membership.Role.ADMIN
    return Membership.objects.filter(project=project, user=user).values_list("role", flat=True).first()


def _role_of(user: AbstractBaseUser | AnonymousUser) -> Subquery | Value:
    """The user's membership role in the outer query's project, as an annotation (one query, not two)."""
    if not user.is_authenticated:
        return Value(None, output_field=CharField())
    return Subquery(
        Membership.objects.filter(project=OuterRef("pk"), user=user).order_by("pk").values("role")[:1]
    )


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
    project = Project.objects.filter(slug=slug).annotate(member_role=_role_of(user)).first()
    current = None
    if project is not None:
        current = Membership.Role.ADMIN if user.is_superuser else project.member_role
    if current is None:
        raise NotFound(f"No project {slug!r}.")
    if _RANK[current] < _RANK[role]:
        raise NotAllowed(f"This needs the {role} role in project {project.name!r}.")
    return project
