"""The audit trail: one row per import, export, run or arena launch, membership or settings change and
review."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict
from typing import TYPE_CHECKING

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.serializers.json import DjangoJSONEncoder

from annotation.models import AuditEvent, ImportBatch, Project

if TYPE_CHECKING:  # exporting records its exports here
    from annotation.services.exporting import ExportSpec


def audit_record(
    *,
    actor: AbstractBaseUser | AnonymousUser | None,
    action: str,
    project: Project | None,
    target: str = "",
    details: Mapping[str, object] | None = None,
) -> AuditEvent:
    """Records that `actor` did `action` (an AuditEvent.Action) on `target` in `project`.

    The services that change state call it (pages, the API and management commands then all audit,
    once), after their checks, so refused requests leave no trace; where they can, in the transaction
    of the change: a change never stands without its row, and its "from" is read under the change's
    lock.
    """
    return AuditEvent.objects.create(
        actor=actor if actor is not None and actor.is_authenticated else None,
        action=action,
        project=project,
        target=target[:255],
        details=dict(details or {}),
    )


def audit_import(*, actor: AbstractBaseUser | AnonymousUser | None, batch: ImportBatch) -> AuditEvent:
    """Records an import with what it added (or that the same file was imported before)."""
    return audit_record(
        actor=actor,
        action=AuditEvent.Action.IMPORT,
        project=batch.project,
        target=batch.file_name,
        details={
            "import_batch": batch.pk,
            "sha256": batch.file_sha256,
            "lines": batch.lines,
            "prompts_created": batch.prompts_created,
            "comparisons_created": batch.comparisons_created,
            "judgments_created": batch.judgments_created,
            "already_imported": bool(getattr(batch, "already_imported", False)),
        },
    )


def audit_export(
    *, actor: AbstractBaseUser | AnonymousUser | None, project: Project, spec: ExportSpec
) -> AuditEvent:
    """Records an export with the options it was asked with (an exporting.ExportSpec)."""
    # Dates and id tuples as JSON: the options read back as they were given.
    details = json.loads(json.dumps(asdict(spec), cls=DjangoJSONEncoder))
    return audit_record(
        actor=actor,
        action=AuditEvent.Action.EXPORT,
        project=project,
        target=f"{project.slug}-{spec.kind}.{spec.file_format}",
        details=details,
    )


def audit_membership(
    *,
    actor: AbstractBaseUser | AnonymousUser,
    project: Project,
    username: str,
    before: str | None,
    after: str | None,
) -> AuditEvent:
    """Records a role change (after is None when the member was removed)."""
    return audit_record(
        actor=actor,
        action=AuditEvent.Action.ROLE_CHANGE if after else AuditEvent.Action.MEMBER_REMOVE,
        project=project,
        target=username,
        details={"from": before, "to": after},
    )


def audit_attributes(
    *,
    actor: AbstractBaseUser | AnonymousUser,
    project: Project,
    username: str,
    before: dict[str, str],
    after: dict[str, str],
) -> AuditEvent | None:
    """Records a change of a member's attributes; nothing when they did not change."""
    if before == after:
        return None
    return audit_record(
        actor=actor,
        action=AuditEvent.Action.MEMBER_ATTRIBUTES,
        project=project,
        target=username,
        details={"from": before, "to": after},
    )
