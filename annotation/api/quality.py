"""GET /api/projects/<slug>/quality/: the dashboard's figures as JSON (reviewers and admins)."""

from __future__ import annotations

from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from annotation.models import Membership
from annotation.permissions import ProjectApi
from annotation.selectors.quality import project_quality_get


class ProjectQualityApi(ProjectApi):
    """Progress, judgments per day, agreement (Krippendorff's alpha, Fleiss' kappa, pairwise rate),
    position bias, annotator scores with flags, the comparisons with least agreement, and the
    Bradley–Terry model leaderboard, and the same progress and agreement per round (`by_round`);
    with `round`, every figure is of that round's comparisons only. docs/quality.md defines each figure."""

    project_role = Membership.Role.REVIEWER

    class InputSerializer(serializers.Serializer):
        # Bootstrap resamples behind the leaderboard's intervals, and the seed that makes them repeatable.
        rounds = serializers.IntegerField(min_value=10, max_value=2000, default=200)
        seed = serializers.IntegerField(min_value=0, default=0)
        round = serializers.IntegerField(
            min_value=0, required=False, default=None, help_text="only the comparisons of this round"
        )

    def get(self, request: Request, slug: str) -> Response:
        project = self.project
        params = self.InputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        return Response(project_quality_get(project=project, **params.validated_data))
