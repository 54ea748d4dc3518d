"""REST API for runs and the model versions they produced."""

from __future__ import annotations

from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.models import Membership
from annotation.permissions import ProjectApi
from training.models import ModelVersion
from training.selectors.runs import model_version_list, run_get, run_list
from training.serializers import (
    RunOutput,
    run_detail,
    run_launch_input,
)
from training.services.engine import engine_command, method_defaults
from training.services.runs import run_cancel, run_launch, run_retry, run_spec_build
from training.services.storage import runs_root


class RunListApi(ProjectApi):
    """GET ?status=&method=: the project's runs. POST (RunLaunchInput): launches a run (201)."""

    project_role = Membership.Role.ADMIN

    def get(self, request: Request, slug: str) -> Response:
        project = self.project
        runs = run_list(
            project=project,
            status=request.query_params.get("status", ""),
            method=request.query_params.get("method", ""),
        )
        return Response(RunOutput(runs, many=True).data)

    def post(self, request: Request, slug: str) -> Response:
        project = self.project
        spec = run_launch_input(project=project, raw=request.data)
        run = run_launch(project=project, launched_by=request.user, spec=spec)
        return Response(RunOutput(run).data, status=status.HTTP_201_CREATED)


class RunPreviewApi(ProjectApi):
    """POST (RunLaunchInput): the spec the engine would run and the command, without launching."""

    project_role = Membership.Role.ADMIN

    def post(self, request: Request, slug: str) -> Response:
        project = self.project
        spec = run_spec_build(
            spec=run_launch_input(project=project, raw=request.data), output_dir=str(runs_root() / "<run id>")
        )
        command = " ".join(engine_command("run", f"{spec['output_dir']}/spec.json"))
        return Response({"spec": spec, "command": command})


class RunDetailApi(ProjectApi):
    """GET: a run's state, log tail, artifacts and model card (the run page polls it)."""

    project_role = Membership.Role.ADMIN

    def get(self, request: Request, slug: str, run_id: int) -> Response:
        project = self.project
        run = run_get(project=project, run_id=run_id)
        return Response(run_detail(run))


class RunCancelApi(ProjectApi):
    """POST: cancels a queued run, or stops a running one within seconds (409 if finished)."""

    project_role = Membership.Role.ADMIN

    def post(self, request: Request, slug: str, run_id: int) -> Response:
        project = self.project
        run = run_cancel(run=run_get(project=project, run_id=run_id))
        return Response(RunOutput(run).data)


class RunRetryApi(ProjectApi):
    """POST: queues a failed or cancelled run again; it resumes from its newest checkpoint (409 otherwise)."""

    project_role = Membership.Role.ADMIN

    def post(self, request: Request, slug: str, run_id: int) -> Response:
        project = self.project
        run = run_retry(run=run_get(project=project, run_id=run_id))
        return Response(RunOutput(run).data)


class ModelVersionOutput(serializers.ModelSerializer):
    class Meta:
        model = ModelVersion
        fields = ["id", "name", "run", "path", "method", "base", "is_reward_model", "created_at"]


class ModelVersionListApi(ProjectApi):
    """GET: model versions trained in the project (and shared ones registered without a run)."""

    project_role = Membership.Role.ADMIN

    def get(self, request: Request, slug: str) -> Response:
        project = self.project
        return Response(ModelVersionOutput(model_version_list(project=project), many=True).data)


class MethodDefaultsApi(APIView):
    """GET: the engine's default hyperparameters for a method (the launch form prefills them)."""

    def get(self, request: Request, method: str) -> Response:
        return Response(method_defaults(method=method))
