"""REST API for a run's metrics."""

from __future__ import annotations

from rest_framework.request import Request
from rest_framework.response import Response

from annotation.models import Membership
from annotation.permissions import ProjectApi
from rankwise.errors import ValidationFailed
from training.selectors.metrics import run_metrics
from training.selectors.runs import run_get


class RunMetricsApi(ProjectApi):
    """GET ?after=<step>: metric records after that step (train and eval), for incremental polling."""

    project_role = Membership.Role.ADMIN

    def get(self, request: Request, slug: str, run_id: int) -> Response:
        project = self.project
        run = run_get(project=project, run_id=run_id)
        try:
            after = int(request.query_params.get("after", -1))
        except ValueError:
            raise ValidationFailed(
                "after must be a step number.", details=[{"field": "after", "reason": "not an integer"}]
            ) from None
        return Response(
            {"run": run.pk, "status": run.status, "metrics": run_metrics(run=run, after_step=after)}
        )
