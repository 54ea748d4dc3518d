"""The audit trail: one row per import, export, run launch and membership or settings change."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from annotation.models import AuditEvent, Project


def audit_record(
    *,
    actor: AbstractBaseUser | AnonymousUser | None,
    action: str,
    project: Project | None,
    target: str = "",
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Records that `actor` did `action` (an AuditEvent.Action) on `target` in `project`.

    Doors call it after the service they wrap succeeded, so refused requests leave no trace.
    """
    return AuditEvent.objects.create(
        actor=actor if actor is not None and actor.is_authenticated else None,
        action=action,
        project=project,
        target=target[:255],
        details=details or {},
    )
