"""REST API for snapshots, runs and model versions, under /api/projects/<slug>/; project admins only.

One class per operation, with nested Input/Output serializers; errors come out through the
project's DRF exception handler as {"error", "details"}.
"""

from __future__ import annotations

from django.urls import reverse
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.models import Membership, Project
from annotation.permissions import project_get_for
from annotation.services.auditing import audit_run_launch
from rankwise.api.errors import validated
from rankwise.errors import ValidationFailed
from training import selectors, services
from training.models import DatasetSnapshot, Method, ModelVersion, Run

LOG_TAIL_BYTES = 8000


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
            "created_at",
        ]


class SnapshotListApi(APIView):
    """GET: the project's snapshots. POST {name, filters?, split_seed?, eval_fraction?, projects? (slugs)}:
    queues a new snapshot (201, status building, then a `default` worker builds it); every extra
    project needs the admin role too."""

    class Input(serializers.Serializer):
        name = serializers.CharField(max_length=200)
        filters = serializers.DictField(required=False, default=dict)
        split_seed = serializers.IntegerField(required=False, default=0)
        eval_fraction = serializers.FloatField(required=False, default=0.1)
        projects = serializers.ListField(child=serializers.SlugField(), required=False, default=list)

    def get(self, request: Request, slug: str) -> Response:
        project = project_get_for(user=request.user, slug=slug, role=Membership.Role.ADMIN)
        return Response(SnapshotOutput(selectors.snapshot_list(project=project), many=True).data)

    def post(self, request: Request, slug: str) -> Response:
        project = project_get_for(user=request.user, slug=slug, role=Membership.Role.ADMIN)
        data = snapshot_input(request, project, request.data)
        snapshot = services.snapshot_queue(**data, created_by=request.user)
        return Response(SnapshotOutput(snapshot).data, status=status.HTTP_201_CREATED)


def snapshot_input(request: Request, project: Project, raw: object) -> dict:
    """Parsed snapshot_create arguments; extra projects are checked for the admin role."""
    data = validated(SnapshotListApi.Input(data=raw))
    extra = [s for s in data.pop("projects") if s != project.slug]
    data["projects"] = [project] + [
        project_get_for(user=request.user, slug=s, role=Membership.Role.ADMIN) for s in dict.fromkeys(extra)
    ]
    return data


class RunOutput(serializers.ModelSerializer):
    launched_by = serializers.CharField(source="launched_by.username", default=None)
    url = serializers.SerializerMethodField()
    progress = serializers.FloatField()

    class Meta:
        model = Run
        fields = [
            "id",
            "name",
            "method",
            "round",
            "base_model",
            "base_version",
            "snapshot",
            "reward_version",
            "queue",
            "status",
            "step",
            "total_steps",
            "progress",
            "eta_seconds",
            "heartbeat_at",
            "error",
            "attempt",
            "cancel_requested",
            "launched_by",
            "created_at",
            "started_at",
            "finished_at",
            "url",
        ]

    def get_url(self, run: Run) -> str:
        return reverse("training:run-detail", args=[run.project.slug, run.pk])


class RunLaunchInput(serializers.Serializer):
    """What a launch takes, from the API (JSON) or the page (form fields, JSON in hyperparameters/lora)."""

    method = serializers.ChoiceField(choices=Method.choices)
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    snapshot = serializers.IntegerField()
    base_model = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    base_version = serializers.IntegerField(required=False, allow_null=True, default=None)
    reward_version = serializers.IntegerField(required=False, allow_null=True, default=None)
    hyperparameters = serializers.JSONField(required=False, default=dict)
    lora = serializers.JSONField(required=False, allow_null=True, default=None)
    seed = serializers.IntegerField(required=False, default=0)
    precision = serializers.CharField(required=False, default="auto")
    device = serializers.CharField(required=False, default="auto")
    sample_prompts = serializers.ListField(child=serializers.CharField(), required=False, default=list)
    round = serializers.IntegerField(
        required=False, allow_null=True, default=None, min_value=0, help_text="default: the snapshot's newest"
    )

    def validate_hyperparameters(self, value: object) -> dict:
        if not isinstance(value, dict):
            raise serializers.ValidationError("must be a JSON object")
        return value

    def validate_lora(self, value: object) -> dict | None:
        if value is not None and not isinstance(value, dict):
            raise serializers.ValidationError("must be a JSON object")
        return value


def run_launch_input(*, project: Project, raw: object) -> dict:
    """run_launch keyword arguments from raw input: ids resolved within the project's reach."""
    data = validated(RunLaunchInput(data=raw))
    data["snapshot"] = selectors.snapshot_get(project=project, snapshot_id=data["snapshot"])
    versions = selectors.model_version_list(project=project)
    for field in ("base_version", "reward_version"):
        if data[field] is not None:
            data[field] = versions.filter(pk=data[field]).first()
            if data[field] is None:
                raise ValidationFailed(
                    f"No such model version for {field}.", details=[{"field": field, "reason": "not found"}]
                )
    return data


class RunListApi(APIView):
    """GET ?status=&method=: the project's runs. POST (RunLaunchInput): launches a run (201)."""

    def get(self, request: Request, slug: str) -> Response:
        project = project_get_for(user=request.user, slug=slug, role=Membership.Role.ADMIN)
        services.runs_reap_stale()
        runs = selectors.run_list(
            project=project,
            status=request.query_params.get("status", ""),
            method=request.query_params.get("method", ""),
        )
        return Response(RunOutput(runs, many=True).data)

    def post(self, request: Request, slug: str) -> Response:
        project = project_get_for(user=request.user, slug=slug, role=Membership.Role.ADMIN)
        run = services.run_launch(
            project=project, launched_by=request.user, **run_launch_input(project=project, raw=request.data)
        )
        audit_run_launch(actor=request.user, run=run)
        return Response(RunOutput(run).data, status=status.HTTP_201_CREATED)


class RunPreviewApi(APIView):
    """POST (RunLaunchInput): the spec the engine would run and the command, without launching."""

    def post(self, request: Request, slug: str) -> Response:
        project = project_get_for(user=request.user, slug=slug, role=Membership.Role.ADMIN)
        data = run_launch_input(project=project, raw=request.data)
        data.pop("name")
        data.pop("round")
        spec = services.run_spec_build(**data, output_dir=str(services.runs_root() / "<run id>"))
        command = " ".join(services.engine_command("run", f"{spec['output_dir']}/spec.json"))
        return Response({"spec": spec, "command": command})


class RunDetailApi(APIView):
    """GET: a run's state, log tail, artifacts and model card (the run page polls it)."""

    def get(self, request: Request, slug: str, run_id: int) -> Response:
        project = project_get_for(user=request.user, slug=slug, role=Membership.Role.ADMIN)
        services.runs_reap_stale()
        run = selectors.run_get(project=project, run_id=run_id)
        return Response(run_detail(run))


def run_detail(run: Run) -> dict:
    artifacts = [
        {
            "id": a.pk,
            "kind": a.kind,
            "path": a.path,
            "bytes": a.bytes,
            "sha256": a.sha256,
            "url": reverse("training:artifact-download", args=[run.project.slug, run.pk, a.pk]),
        }
        for a in selectors.run_artifacts(run=run)
    ]
    version = ModelVersion.objects.filter(run=run).first()
    return {
        **RunOutput(run).data,
        "spec": run.spec,
        "command": services.run_command(run=run),
        "log_tail": selectors.run_text_file(run=run, name="run.log", tail_bytes=LOG_TAIL_BYTES),
        "model_card": selectors.run_text_file(run=run, name="model_card.md"),
        "artifacts": artifacts,
        "model_version": {"id": version.pk, "name": version.name, "path": version.path} if version else None,
        "model_zip_url": reverse("training:model-download", args=[run.project.slug, run.pk])
        if version
        else None,
        "result": selectors.run_result(run=run),
    }


class RunMetricsApi(APIView):
    """GET ?after=<step>: metric records after that step (train and eval), for incremental polling."""

    def get(self, request: Request, slug: str, run_id: int) -> Response:
        project = project_get_for(user=request.user, slug=slug, role=Membership.Role.ADMIN)
        run = selectors.run_get(project=project, run_id=run_id)
        try:
            after = int(request.query_params.get("after", -1))
        except ValueError:
            raise ValidationFailed(
                "after must be a step number.", details=[{"field": "after", "reason": "not an integer"}]
            ) from None
        return Response(
            {"run": run.pk, "status": run.status, "metrics": selectors.run_metrics(run=run, after_step=after)}
        )


class RunCancelApi(APIView):
    """POST: cancels a queued run, or stops a running one within seconds (409 if finished)."""

    def post(self, request: Request, slug: str, run_id: int) -> Response:
        project = project_get_for(user=request.user, slug=slug, role=Membership.Role.ADMIN)
        run = services.run_cancel(run=selectors.run_get(project=project, run_id=run_id))
        return Response(RunOutput(run).data)


class RunRetryApi(APIView):
    """POST: queues a failed or cancelled run again; it resumes from its newest checkpoint (409 otherwise)."""

    def post(self, request: Request, slug: str, run_id: int) -> Response:
        project = project_get_for(user=request.user, slug=slug, role=Membership.Role.ADMIN)
        run = services.run_retry(run=selectors.run_get(project=project, run_id=run_id))
        return Response(RunOutput(run).data)


class ModelVersionOutput(serializers.ModelSerializer):
    class Meta:
        model = ModelVersion
        fields = ["id", "name", "run", "path", "method", "base", "is_reward_model", "created_at"]


class ModelVersionListApi(APIView):
    """GET: model versions trained in the project (and shared ones registered without a run)."""

    def get(self, request: Request, slug: str) -> Response:
        project = project_get_for(user=request.user, slug=slug, role=Membership.Role.ADMIN)
        return Response(ModelVersionOutput(selectors.model_version_list(project=project), many=True).data)


class MethodDefaultsApi(APIView):
    """GET: the engine's default hyperparameters for a method (the launch form prefills them)."""

    def get(self, request: Request, method: str) -> Response:
        return Response(services.method_defaults(method=method))
