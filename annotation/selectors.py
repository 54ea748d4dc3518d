"""Read queries used by pages and the API."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from annotation.models import Project


def project_list_for_user(*, user: AbstractBaseUser) -> QuerySet[Project]:
    """Projects the user belongs to; superusers see every project."""
    projects = Project.objects.order_by("name")
    if user.is_superuser:
        return projects
    return projects.filter(memberships__user=user).distinct()
