"""GET /api/projects/<slug>/quality/: the dashboard's figures as JSON (reviewers and admins)."""

from __future__ import annotations

from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.models import Membership
from annotation.permissions import project_get_for
from annotation.quality.report import quality_report
from annotation.quality_selectors import quality_inputs_get


class ProjectQualityApi(APIView):
    """Progress, judgments per day, agreement (Krippendorff's alpha, Fleiss' kappa, pairwise rate),
    position bias, annotator scores with flags, and the Bradley–Terry model leaderboard."""

    def get(self, request: Request, slug: str) -> Response:
        project = project_get_for(user=request.user, slug=slug, role=Membership.Role.REVIEWER)
        report = quality_report(quality_inputs_get(project=project))
        return Response(
            {"project": {"slug": project.slug, "name": project.name, "mode": project.mode}, **report}
        )
