"""REST API for snapshots."""

from __future__ import annotations

from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from annotation.models import Membership
from annotation.permissions import ProjectApi
from training.models import DatasetSnapshot
from training.selectors.snapshots import snapshot_get, snapshot_list
from training.serializers import (
    snapshot_input,
)
from training.services.snapshots import snapshot_queue, snapshot_retry


class SnapshotOutput(serializers.ModelSerializer):
    projects = serializers.SlugRelatedField(slug_field="slug", many=True, read_only=True)
    created_by = serializers.CharField(source="created_by.username", default=None)

    class Meta:
        model = DatasetSnapshot
        fields = [
            "id",
            "name",
            "projects",
            "filters",
            "rounds",
            "split_seed",
            "eval_fraction",
            "status",
            "sha256",
            "train_rows",
            "eval_rows",
            "sft_rows",
            "manifest",
            "error",
            "created_by",
            "dispatched_at",
            "created_at",
        ]


class SnapshotListApi(ProjectApi):
    """GET: the project's snapshots. POST {name, filters?, split_seed?, eval_fraction?, projects? (slugs)}:
    queues a new snapshot (201, status building, then a `default` worker builds it); every extra
    project needs the admin role too."""

    project_role = Membership.Role.ADMIN

    def get(self, request: Request, slug: str) -> Response:
        project = self.project
        return Response(SnapshotOutput(snapshot_list(project=project), many=True).data)

    def post(self, request: Request, slug: str) -> Response:
        project = self.project
        spec = snapshot_input(request, project, request.data)
        snapshot = snapshot_queue(spec=spec, created_by=request.user)
        return Response(SnapshotOutput(snapshot).data, status=status.HTTP_201_CREATED)


class SnapshotRetryApi(ProjectApi):
    """POST: builds a failed snapshot again (its worker died, the disk was full); 409 otherwise."""

    project_role = Membership.Role.ADMIN

    def post(self, request: Request, slug: str, snapshot_id: int) -> Response:
        snapshot = snapshot_retry(snapshot=snapshot_get(project=self.project, snapshot_id=snapshot_id))
        return Response(SnapshotOutput(snapshot).data)
