"""REST API for rounds and arenas under /api/projects/<slug>/; project admins only.

GET rounds/ is what the rounds page shows, per round. GET arenas/ lists the arenas, POST launches
one (201, audited); GET arenas/<id>/ is an arena's state with its leaderboard (the arena page polls it).
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.models import Membership, Project
from annotation.permissions import project_get_for
from annotation.services.auditing import audit_arena_launch
from rankwise.api.errors import validated
from rankwise.errors import ValidationFailed
from training import arenas, round_selectors, selectors
from training.models import Arena


class ArenaLaunchInput(serializers.Serializer):
    """What an arena launch takes, from the API (JSON) or the page (form fields)."""

    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    model_versions = serializers.ListField(child=serializers.IntegerField(), required=False, default=list)
    base_models = serializers.ListField(
        child=serializers.CharField(max_length=500), required=False, default=list
    )
    prompt_ids = serializers.ListField(child=serializers.IntegerField(), required=False, default=list)
    prompt_round = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=0)
    limit = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=1)
    round = serializers.IntegerField(
        required=False, allow_null=True, default=None, min_value=0, help_text="default: the current round"
    )
    k = serializers.IntegerField(required=False, default=1)
    temperature = serializers.FloatField(required=False, default=0.7)
    top_p = serializers.FloatField(required=False, default=1.0)
    max_new_tokens = serializers.IntegerField(required=False, default=128)
    batch_size = serializers.IntegerField(required=False, default=8)
    seed = serializers.IntegerField(required=False, default=0)


def arena_launch_input(*, project: Project, raw: object) -> dict[str, Any]:
    """arena_launch keyword arguments from raw input; model versions are looked up within the
    project's reach. Raises ValidationFailed naming the field."""
    data = validated(ArenaLaunchInput(data=raw))
    wanted = set(data["model_versions"])
    versions = list(selectors.model_version_list(project=project).filter(pk__in=wanted))
    if len(versions) != len(wanted):
        raise ValidationFailed(
            "model_versions: not all are model versions of this project.",
            details=[{"field": "model_versions", "reason": "not all are model versions of this project"}],
        )
    order = {pk: i for i, pk in enumerate(data["model_versions"])}
    data["model_versions"] = sorted(versions, key=lambda v: order[v.pk])
    return data


class ArenaOutput(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.username", default=None)
    contestants = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()

    class Meta:
        model = Arena
        fields = [
            "id",
            "name",
            "round",
            "status",
            "error",
            "prompt_ids",
            "contestants",
            "built_at",
            "created_by",
            "created_at",
            "url",
        ]

    def get_contestants(self, arena: Arena) -> list[str]:
        return [job.source_name for job in sorted(arena.generation_jobs.all(), key=lambda job: job.pk)]

    def get_url(self, arena: Arena) -> str:
        return reverse("training:arena-detail", args=[arena.project.slug, arena.pk])


class ContestantOutput(serializers.Serializer):
    name = serializers.CharField()
    source = serializers.CharField()
    model_version = serializers.IntegerField(allow_null=True)
    generation_job = serializers.IntegerField()
    status = serializers.CharField()
    prompts_done = serializers.IntegerField()
    prompts_total = serializers.IntegerField()
    candidates = serializers.IntegerField()
    error = serializers.CharField()


class LeaderboardRowOutput(serializers.Serializer):
    rank = serializers.IntegerField()
    model = serializers.CharField()
    score = serializers.FloatField(help_text="Bradley–Terry, Elo scale (mean 1000)")
    ci_low = serializers.FloatField()
    ci_high = serializers.FloatField()
    wins = serializers.IntegerField()
    losses = serializers.IntegerField()
    ties = serializers.IntegerField()
    battles = serializers.IntegerField()
    win_rate = serializers.FloatField()


class ArenaStandingOutput(serializers.Serializer):
    contestants = ContestantOutput(many=True)
    comparisons = serializers.IntegerField()
    judged_comparisons = serializers.IntegerField()
    battles = serializers.IntegerField()
    leaderboard = LeaderboardRowOutput(many=True)
    matrix = serializers.ListField(
        child=serializers.DictField(),
        help_text="in leaderboard order: {model, cells: [{opponent, wins, losses, ties, battles, win_rate}]}",
    )


class ArenaDetailOutput(ArenaOutput):
    standing = serializers.SerializerMethodField()

    class Meta(ArenaOutput.Meta):
        fields = [*ArenaOutput.Meta.fields, "standing"]

    @extend_schema_field(ArenaStandingOutput)
    def get_standing(self, arena: Arena) -> dict[str, Any]:
        return round_selectors.arena_standing(arena=arena)


class ArenaListApi(APIView):
    def get(self, request: Request, slug: str) -> Response:
        project = project_get_for(user=request.user, slug=slug, role=Membership.Role.ADMIN)
        arenas.arenas_refresh(project=project)
        return Response(ArenaOutput(selectors.arena_list(project=project)[:200], many=True).data)

    def post(self, request: Request, slug: str) -> Response:
        project = project_get_for(user=request.user, slug=slug, role=Membership.Role.ADMIN)
        arena = arenas.arena_launch(
            project=project, created_by=request.user, **arena_launch_input(project=project, raw=request.data)
        )
        audit_arena_launch(actor=request.user, arena=arena)
        arena = selectors.arena_get(project=project, arena_id=arena.pk)
        return Response(ArenaOutput(arena).data, status=status.HTTP_201_CREATED)


class ArenaDetailApi(APIView):
    def get(self, request: Request, slug: str, arena_id: int) -> Response:
        project = project_get_for(user=request.user, slug=slug, role=Membership.Role.ADMIN)
        arenas.arenas_refresh(project=project)
        return Response(ArenaDetailOutput(selectors.arena_get(project=project, arena_id=arena_id)).data)


def rounds_json(overview: dict[str, Any]) -> dict[str, Any]:
    """The rounds overview with ids and names in place of model instances."""

    def version(v: Any) -> dict[str, Any] | None:
        return {"id": v.pk, "name": v.name, "method": v.method} if v is not None else None

    rounds = []
    for row in overview["rounds"]:
        policy = row["policy"]
        rounds.append(
            {
                **{k: row[k] for k in ("round", "prompts", "candidates", "comparisons", "open_comparisons")},
                **{k: row[k] for k in ("judgments", "progress", "agreement")},
                "snapshots": [{"id": s.pk, "name": s.name, "status": s.status} for s in row["snapshots"]],
                "runs": [{"id": r.pk, "method": r.method, "status": r.status} for r in row["runs"]],
                "model_versions": [version(v) for v in row["model_versions"]],
                "arenas": [{"id": a.pk, "name": a.name, "status": a.status} for a in row["arenas"]],
                "policy": {**policy, "version": version(policy["version"])} if policy else None,
            }
        )
    return {"current": overview["current"], "next": overview["next"], "rounds": rounds}


class RoundListApi(APIView):
    def get(self, request: Request, slug: str) -> Response:
        project = project_get_for(user=request.user, slug=slug, role=Membership.Role.ADMIN)
        return Response(rounds_json(round_selectors.rounds_overview(project=project)))
