"""REST API for arenas."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from annotation.models import Membership
from annotation.permissions import ProjectApi
from training.models import Arena
from training.selectors.arenas import arena_get, arena_list, arena_standing
from training.serializers import (
    arena_launch_input,
)
from training.services.arenas import arena_launch


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
        return arena_standing(arena=arena)


class ArenaListApi(ProjectApi):
    project_role = Membership.Role.ADMIN

    def get(self, request: Request, slug: str) -> Response:
        project = self.project
        return Response(ArenaOutput(arena_list(project=project)[:200], many=True).data)

    def post(self, request: Request, slug: str) -> Response:
        project = self.project
        spec = arena_launch_input(project=project, raw=request.data)
        arena = arena_launch(project=project, created_by=request.user, spec=spec)
        arena = arena_get(project=project, arena_id=arena.pk)
        return Response(ArenaOutput(arena).data, status=status.HTTP_201_CREATED)


class ArenaDetailApi(ProjectApi):
    project_role = Membership.Role.ADMIN

    def get(self, request: Request, slug: str, arena_id: int) -> Response:
        project = self.project
        return Response(ArenaDetailOutput(arena_get(project=project, arena_id=arena_id)).data)
