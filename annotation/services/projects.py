"""Creating and configuring projects, and who belongs to them with which role."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import fields

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction

from annotation.models import AuditEvent, Membership, Project
from annotation.quality.annotators import Thresholds
from annotation.services.auditing import audit_attributes, audit_membership, audit_record
from annotation.services.queueing import queue_rerank_later, queue_settings
from rankwise.errors import Conflict, NotFound, ValidationFailed

# The annotator flags' thresholds (project fields named as Thresholds' fields), and the review
# queue's agreement cut-off.
THRESHOLD_FIELDS = tuple(f.name for f in fields(Thresholds))
QUALITY_FIELDS = (*THRESHOLD_FIELDS, "review_min_agreement")
# What project admins may change from the settings page, the command and the API.
SETTINGS_FIELDS = (
    "name",
    "guidelines",
    "mode",
    "pairing",
    "candidates_per_comparison",
    "overlap",
    "rating_criteria",
    "rating_scale_max",
    "asks_demonstrations",
    "hides_model_names",
    "lease_minutes",
    "edit_window_minutes",
    "gold_rate",
    *QUALITY_FIELDS,
    "queue_order",
    "queue_model_version",
)
MODE_SIZE_RULE = "pairwise projects compare 2 candidates; ranking projects 3 or 4"
# These decide how comparisons are built, so they are fixed once the project has any.
SHAPE_FIELDS = ("mode", "pairing", "candidates_per_comparison")


def project_create(
    *,
    name: str,
    slug: str,
    created_by: AbstractBaseUser | None = None,
    admins: Iterable[AbstractBaseUser] = (),
    **settings: object,
) -> Project:
    """A new project with `settings` (any of SETTINGS_FIELDS) and the given users as admins.

    Without candidates_per_comparison, a pairwise project compares 2 and a ranking project 3.
    Raises ValidationFailed with one detail per bad field.
    """
    _check_field_names(settings)
    if "candidates_per_comparison" not in settings:
        settings["candidates_per_comparison"] = 3 if settings.get("mode") == Project.Mode.RANKING else 2
    project = Project(name=name, slug=slug, created_by=created_by, **settings)
    _validate(project)
    with transaction.atomic():
        project.save()
        Membership.objects.bulk_create(
            Membership(project=project, user=user, role=Membership.Role.ADMIN) for user in {*admins}
        )
    return project


def project_update(
    *, project: Project, actor: AbstractBaseUser | AnonymousUser | None = None, **changes: object
) -> Project:
    """Changes any of SETTINGS_FIELDS, with an audit row by `actor` in the same transaction. Mode,
    pairing and group size are refused (Conflict) once the project has comparisons, since those were
    built under the old settings. A new queue order (or its reward model) re-ranks the queue in the
    background (queueing.queue_rerank_later)."""
    _check_field_names(changes)
    with transaction.atomic():
        project = Project.objects.select_for_update(no_key=True).get(pk=project.pk)
        shape_changes = [f for f in SHAPE_FIELDS if f in changes and changes[f] != getattr(project, f)]
        if shape_changes and project.comparisons.exists():
            raise Conflict(
                f"{', '.join(shape_changes)} cannot change once the project has comparisons.",
                details=[{"field": f, "reason": "fixed once comparisons exist"} for f in shape_changes],
            )
        queue_before = queue_settings(project)
        for field, value in changes.items():
            setattr(project, field, value)
        _validate(project)
        project.save()
        if queue_settings(project) != queue_before:
            queue_rerank_later(project=project)
        audit_record(
            actor=actor,
            action=AuditEvent.Action.PROJECT_UPDATE,
            project=project,
            target=project.slug,
            details={"fields": sorted(changes)},
        )
    return project


def membership_set(
    *, actor: AbstractBaseUser | AnonymousUser, project: Project, user: AbstractBaseUser, role: str
) -> Membership:
    """Adds the user to the project with `role`, or changes their role, with an audit row by `actor`
    in the same transaction (none when the role stays the same). Refuses (Conflict) to demote the
    project's last admin."""
    if role not in Membership.Role.values:
        raise ValidationFailed(
            f"Unknown role {role!r}.",
            details=[{"field": "role", "reason": f"expected one of {', '.join(Membership.Role.values)}"}],
        )
    with transaction.atomic():
        # Locking the project serialises membership changes, so two admins demoting each other
        # at once cannot leave the project with none.
        Project.objects.select_for_update(no_key=True).filter(pk=project.pk).first()
        membership = Membership.objects.filter(project=project, user=user).first()
        before = membership.role if membership is not None else None
        if before == role:
            return membership
        if membership is None:
            membership = Membership.objects.create(project=project, user=user, role=role)
        else:
            if before == Membership.Role.ADMIN:
                _keep_an_admin(project=project, leaving=membership)
            membership.role = role
            membership.save(update_fields=["role"])
        audit_membership(actor=actor, project=project, username=user.username, before=before, after=role)
    return membership


ATTRIBUTE_KEY = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")
ATTRIBUTE_VALUE_MAX = 100
ATTRIBUTES_MAX = 20


def membership_attributes_check(*, attributes: object) -> dict[str, str]:
    """The attributes in canonical form (values stripped, keys sorted), or ValidationFailed naming
    each bad one. Keys are 1–40 letters, digits, "_", "." or "-"; values are non-empty text of at
    most 100 characters on one line, without "," or "=" (the members page writes them as
    `key=value, key=value`); at most 20 of them."""
    if not isinstance(attributes, Mapping):
        raise ValidationFailed(
            "Attributes are key → value pairs.",
            details=[{"field": "attributes", "reason": "expected an object of key → value"}],
        )
    problems = []
    if len(attributes) > ATTRIBUTES_MAX:
        problems.append({"field": "attributes", "reason": f"at most {ATTRIBUTES_MAX} attributes"})
    clean: dict[str, str] = {}
    for key, value in attributes.items():
        if not isinstance(key, str) or not ATTRIBUTE_KEY.match(key):
            problems.append(
                {"field": "attributes", "reason": f"{key!r}: keys are 1–40 letters, digits, _ . or -"}
            )
            continue
        text = value.strip() if isinstance(value, str) else ""
        if not text or len(text) > ATTRIBUTE_VALUE_MAX or any(c in text for c in ",=\n\r"):
            problems.append(
                {
                    "field": f"attributes.{key}",
                    "reason": f"a value is 1–{ATTRIBUTE_VALUE_MAX} characters of text on one line, "
                    'without "," or "="',
                }
            )
            continue
        clean[key] = text
    if problems:
        message = "The attributes are not valid: " + problems[0]["reason"] + "."
        raise ValidationFailed(message, details=problems)
    return dict(sorted(clean.items()))


def membership_attributes_set(
    *,
    actor: AbstractBaseUser | AnonymousUser,
    project: Project,
    user: AbstractBaseUser,
    attributes: Mapping[str, object],
) -> Membership:
    """Replaces the member's attributes (free key → value labels such as language or expertise;
    see membership_attributes_check); an empty mapping clears them. A change is audited as done by
    `actor` in the same transaction. Raises ValidationFailed naming each bad attribute, and NotFound
    when the user is not a member."""
    clean = membership_attributes_check(attributes=attributes)
    with transaction.atomic():
        membership = Membership.objects.select_for_update().filter(project=project, user=user).first()
        if membership is None:
            raise NotFound(f"{user} is not a member of this project.")
        before = dict(membership.attributes or {})
        membership.attributes = clean
        membership.save(update_fields=["attributes"])
        audit_attributes(actor=actor, project=project, username=user.username, before=before, after=clean)
    return membership


def membership_remove(
    *, actor: AbstractBaseUser | AnonymousUser, project: Project, user: AbstractBaseUser
) -> None:
    """Removes the user from the project (their judgments stay), audited as done by `actor` in the
    same transaction; nothing happens for a non-member. Refuses to remove the last admin."""
    with transaction.atomic():
        Project.objects.select_for_update(no_key=True).filter(pk=project.pk).first()
        membership = Membership.objects.filter(project=project, user=user).first()
        if membership is None:
            return
        if membership.role == Membership.Role.ADMIN:
            _keep_an_admin(project=project, leaving=membership)
        membership.delete()
        audit_membership(
            actor=actor, project=project, username=user.username, before=membership.role, after=None
        )


def mode_size_fits(*, mode: str, candidates_per_comparison: int) -> bool:
    """The rule of the project_mode_matches_candidates_per_comparison constraint (MODE_SIZE_RULE)."""
    if mode == Project.Mode.PAIRWISE:
        return candidates_per_comparison == 2
    return 3 <= candidates_per_comparison <= 4


def _keep_an_admin(*, project: Project, leaving: Membership) -> None:
    others = Membership.objects.filter(project=project, role=Membership.Role.ADMIN).exclude(pk=leaving.pk)
    if not others.exists():
        raise Conflict("A project needs at least one admin; make someone else admin first.")


def _check_field_names(fields: Mapping[str, object]) -> None:
    unknown = sorted(set(fields) - set(SETTINGS_FIELDS))
    if unknown:
        raise ValidationFailed(
            f"Unknown project settings: {', '.join(unknown)}.",
            details=[{"field": f, "reason": "not a project setting"} for f in unknown],
        )


def _validate(project: Project) -> None:
    """Field, uniqueness and constraint checks as ValidationFailed, before touching the database."""
    details = []
    criteria = project.rating_criteria
    if not isinstance(criteria, list) or not all(isinstance(c, str) and c.strip() for c in criteria):
        details.append({"field": "rating_criteria", "reason": "expected a list of names"})
    elif len({c.strip().lower() for c in criteria}) != len(criteria):
        details.append({"field": "rating_criteria", "reason": "names repeat"})
    # NaN passes the range validators (every comparison with it is false), so ask for it here,
    # and leave those fields out of the model's checks, which would only repeat the problem.
    not_finite = [
        field
        for field in QUALITY_FIELDS
        if isinstance(getattr(project, field), float) and not math.isfinite(getattr(project, field))
    ]
    details.extend({"field": field, "reason": "must be a finite number"} for field in not_finite)
    version = project.queue_model_version
    if project.queue_order == Project.QueueOrder.UNCERTAINTY and version is None:
        details.append(
            {"field": "queue_model_version", "reason": "the uncertainty order needs a reward model version"}
        )
    elif version is not None and version.run_id is not None and version.run.project_id != project.pk:
        details.append({"field": "queue_model_version", "reason": "not a model version of this project"})
    try:
        project.full_clean(exclude=["created_by", *not_finite])
    except DjangoValidationError as exc:
        for field, messages in exc.message_dict.items():
            for message in messages:
                details.append({"field": None if field == "__all__" else field, "reason": _reason(message)})
    if details:
        raise ValidationFailed("The project settings are not valid.", details=details)


def _reason(message: str) -> str:
    # The model's check constraints report under their names; say what they mean instead.
    if "project_mode_matches_candidates_per_comparison" in message:
        return MODE_SIZE_RULE
    return message
