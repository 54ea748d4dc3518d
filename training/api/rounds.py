"""REST API for rounds."""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response

from annotation.models import Membership
from annotation.permissions import ProjectApi
from training.selectors.rounds import rounds_overview


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


class RoundListApi(ProjectApi):
    project_role = Membership.Role.ADMIN

    def get(self, request: Request, slug: str) -> Response:
        project = self.project
        return Response(rounds_json(rounds_overview(project=project)))
