"""JSON endpoints of the annotate page: next item, submit, skip, and editing a recent judgment.

Session auth with CSRF (DRF's SessionAuthentication); every door checks membership through
annotation.permissions and calls one service.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from string import ascii_uppercase
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import InterfaceError, OperationalError
from django.utils import timezone
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from annotation.models import Assignment, Project
from annotation.permissions import ProjectApi, model_names_hidden
from annotation.rendering import markdown_stored, messages_shown
from annotation.selectors import annotating as selectors
from annotation.services.assigning import assignment_skip, comparison_lease
from annotation.services.judging import answer_parse, judgment_edit, judgment_submit
from rankwise.api.errors import validated
from rankwise.api.fields import JSONField
from rankwise.errors import NotFound

# Ids are 64-bit (BigAutoField). A larger number would overflow SQLite's integers in the services'
# hand-written lookups, so it is refused here as out of range.
ID_MAX = 2**63 - 1


logger = logging.getLogger(__name__)


def _counts(project: Project, user: AbstractBaseUser, *, fresh: bool = False) -> dict[str, int | bool]:
    counts = selectors.queue_counts(project=project, annotator=user, fresh=fresh)
    return {
        "done_today": counts.done_today,
        "done_total": counts.done_total,
        "remaining": counts.remaining,
        "remaining_capped": counts.remaining_capped,
    }


def comparison_payload(
    *, project: Project, item: selectors.ComparisonItem, order: list[int]
) -> dict[str, Any]:
    """What the page shows of a comparison: rendered context and candidates in the given order,
    with model names only where neither the project nor an arena hides them.

    Candidate text is sent raw too (for the demonstration editor and the diff, which the page
    only ever inserts as text) and as HTML from the sanitiser for display: the HTML stored for
    it, or rendered now where none is stored yet.
    """
    pairwise = project.mode == Project.Mode.PAIRWISE
    hidden = model_names_hidden(project=project, arena=item.arena)
    candidates = item.candidates
    return {
        "mode": project.mode,
        "messages": messages_shown(item.messages, item.messages_html),
        "candidates": [
            {
                "id": cid,
                "label": ascii_uppercase[i] if pairwise else str(i + 1),
                "html": markdown_stored(candidates[cid].html, candidates[cid].text),
                "text": candidates[cid].text,
                "model": None if hidden else candidates[cid].model_name,
            }
            for i, cid in enumerate(order)
        ],
        "criteria": list(project.rating_criteria or []),
        "scale": project.rating_scale_max,
        "asks_demonstrations": project.asks_demonstrations,
    }


def _item(project: Project, assignment: Assignment | None) -> dict[str, Any] | None:
    if assignment is None:
        return None
    item = selectors.comparison_item(comparison_id=assignment.comparison_id)
    return {
        "assignment": assignment.pk,
        "expires_at": assignment.expires_at.isoformat(),
        **comparison_payload(project=project, item=item, order=assignment.presented_order),
    }


class AnswerSerializer(serializers.Serializer):
    """The shape of an answer; judging.answer_parse then checks its meaning."""

    ordering = JSONField()
    strength = serializers.CharField(required=False, allow_blank=True, default="")
    ratings = JSONField(required=False, default=dict)
    rationale = serializers.CharField(required=False, allow_blank=True, default="", max_length=20_000)
    flags = serializers.ListField(child=serializers.CharField(), required=False, default=list)
    demonstration_text = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, default=None, trim_whitespace=False
    )
    based_on = serializers.IntegerField(required=False, allow_null=True, default=None, max_value=ID_MAX)


def _next(project: Project, user: AbstractBaseUser) -> dict[str, Any]:
    """The annotator's current item (or a new lease), null when the queue is empty, and their counts."""
    assignment = comparison_lease(project=project, annotator=user)
    # No item: count afresh, so that an empty queue never shows a long queue's remembered count.
    return {"item": _item(project, assignment), "counts": _counts(project, user, fresh=assignment is None)}


class ItemNextApi(ProjectApi):
    """POST: the annotator's current item (or a new lease), null when the queue is empty."""

    def post(self, request: Request, slug: str) -> Response:
        project = self.project
        return Response(_next(project, request.user))


class JudgmentSubmitApi(ProjectApi):
    class InputSerializer(AnswerSerializer):
        assignment = serializers.IntegerField(max_value=ID_MAX)
        submission_token = serializers.CharField(max_length=64)
        time_spent_ms = serializers.IntegerField(required=False, default=0, min_value=0)
        # True: the answer carries the next item and the counts, as next/ gives them, which saves
        # the page a round trip (and the server a request) per item.
        next = serializers.BooleanField(required=False, default=False)

    def post(self, request: Request, slug: str) -> Response:
        project = self.project
        fields = validated(self.InputSerializer(data=request.data))
        judgment = judgment_submit(
            project=project,
            annotator=request.user,
            assignment_id=fields["assignment"],
            submission_token=fields["submission_token"],
            answer=answer_parse(fields, project=project),
            time_spent_ms=fields["time_spent_ms"],
        )
        reply: dict[str, Any] = {"judgment": judgment.pk}
        if fields["next"]:
            try:
                reply["next"] = _next(project, request.user)
            except (OperationalError, InterfaceError):
                # The judgment is committed: answer with it, and leave the next item to next/ (the
                # page asks for it at once), rather than a 503 that leaves the client unsure.
                logger.warning("submitted judgment %s; the next item could not be read", judgment.pk)
                reply["next"] = None
        return Response(reply, status=201)


class AssignmentSkipApi(ProjectApi):
    class InputSerializer(serializers.Serializer):
        assignment = serializers.IntegerField(max_value=ID_MAX)
        reason = serializers.CharField(max_length=255)

    def post(self, request: Request, slug: str) -> Response:
        project = self.project
        fields = validated(self.InputSerializer(data=request.data))
        assignment_skip(
            project=project,
            annotator=request.user,
            assignment_id=fields["assignment"],
            reason=fields["reason"],
        )
        return Response({"skipped": fields["assignment"], "counts": _counts(project, request.user)})


class JudgmentDetailApi(ProjectApi):
    """GET: one of my judgments with its item, for editing; PATCH: change it within the edit window."""

    def get(self, request: Request, slug: str, pk: int) -> Response:
        project = self.project
        judgment = selectors.judgment_item(project=project, judgment_id=pk)
        if judgment is None or judgment.annotator_id != request.user.pk:
            raise NotFound("No such judgment of yours in this project.")
        item = selectors.comparison_item(comparison_id=judgment.comparison_id)
        order = judgment.presented_order or list(item.candidates)
        demonstration = selectors.demonstration_for(judgment=judgment)
        return Response(
            {
                "judgment": {
                    "id": judgment.pk,
                    "ordering": judgment.ordering,
                    "strength": judgment.strength,
                    "ratings": judgment.ratings,
                    "rationale": judgment.rationale,
                    "flags": judgment.flags,
                    "demonstration_text": demonstration.text if demonstration else None,
                    "editable_until": (
                        judgment.created_at + timedelta(minutes=project.edit_window_minutes)
                    ).isoformat(),
                    "editable": timezone.now()
                    < judgment.created_at + timedelta(minutes=project.edit_window_minutes),
                },
                "item": comparison_payload(project=project, item=item, order=order),
            }
        )

    def patch(self, request: Request, slug: str, pk: int) -> Response:
        project = self.project
        answer = answer_parse(validated(AnswerSerializer(data=request.data)), project=project)
        judgment = judgment_edit(project=project, annotator=request.user, judgment_id=pk, answer=answer)
        return Response({"judgment": judgment.pk})
