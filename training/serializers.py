"""Request parsing and output shaping that the pages and the REST API share."""

from __future__ import annotations

from django.urls import reverse
from rest_framework import serializers
from rest_framework.request import Request

from annotation.models import Membership, Project
from annotation.permissions import project_get_for
from rankwise.api.errors import validated
from rankwise.api.fields import JSONField
from rankwise.errors import ValidationFailed
from training.models import GenerationJob, Method, ModelVersion, Run, ScoringJob
from training.selectors.runs import (
    model_version_list,
    reward_version_list,
    run_artifacts,
    run_result,
    run_text_file,
)
from training.selectors.scoring import ScoreReport, score_report
from training.selectors.snapshots import snapshot_get
from training.services.arenas import ArenaLaunchSpec
from training.services.generation import GenerationLaunchSpec
from training.services.runs import RunLaunchSpec, run_command
from training.services.scoring import ScoringLaunchSpec
from training.services.snapshots import SnapshotSpec

# The range of the 32-bit integer columns these numbers are stored in (round, seeds).
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
LOG_TAIL_BYTES = 8000


class SnapshotInput(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    filters = serializers.DictField(required=False, default=dict)
    split_seed = serializers.IntegerField(required=False, default=0, min_value=INT32_MIN, max_value=INT32_MAX)
    eval_fraction = serializers.FloatField(required=False, default=0.1)
    projects = serializers.ListField(child=serializers.SlugField(), required=False, default=list)


def snapshot_input(request: Request, project: Project, raw: object) -> SnapshotSpec:
    """The snapshot a request asks for, of `project` and the extra projects it names (each checked
    for the admin role). Raises ValidationFailed naming the field."""
    data = validated(SnapshotInput(data=raw))
    extra = [s for s in data.pop("projects") if s != project.slug]
    projects = [project] + [
        project_get_for(user=request.user, slug=s, role=Membership.Role.ADMIN) for s in dict.fromkeys(extra)
    ]
    # SnapshotInput's fields are SnapshotSpec's.
    return SnapshotSpec(**data, projects=projects)


class RunLaunchInput(serializers.Serializer):
    """What a launch takes, from the API (JSON) or the page (form fields, JSON in hyperparameters/lora)."""

    method = serializers.ChoiceField(choices=Method.choices)
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    snapshot = serializers.IntegerField()
    base_model = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    base_version = serializers.IntegerField(required=False, allow_null=True, default=None)
    reward_version = serializers.IntegerField(required=False, allow_null=True, default=None)
    hyperparameters = JSONField(required=False, default=dict)
    lora = JSONField(required=False, allow_null=True, default=None)
    seed = serializers.IntegerField(required=False, default=0, min_value=INT32_MIN, max_value=INT32_MAX)
    precision = serializers.CharField(required=False, default="auto")
    device = serializers.CharField(required=False, default="auto")
    sample_prompts = serializers.ListField(child=serializers.CharField(), required=False, default=list)
    round = serializers.IntegerField(
        required=False,
        allow_null=True,
        default=None,
        min_value=0,
        max_value=INT32_MAX,
        help_text="default: the snapshot's newest",
    )

    def validate_hyperparameters(self, value: object) -> dict:
        if not isinstance(value, dict):
            raise serializers.ValidationError("must be a JSON object")
        return value

    def validate_lora(self, value: object) -> dict | None:
        if value is not None and not isinstance(value, dict):
            raise serializers.ValidationError("must be a JSON object")
        return value


def run_launch_input(*, project: Project, raw: object) -> RunLaunchSpec:
    """The run a request asks for, ids resolved within the project's reach. Raises ValidationFailed
    naming the field."""
    data = validated(RunLaunchInput(data=raw))
    data["snapshot"] = snapshot_get(project=project, snapshot_id=data["snapshot"])
    versions = model_version_list(project=project)
    for field in ("base_version", "reward_version"):
        if data[field] is not None:
            data[field] = versions.filter(pk=data[field]).first()
            if data[field] is None:
                raise ValidationFailed(
                    f"No such model version for {field}.", details=[{"field": field, "reason": "not found"}]
                )
    # RunLaunchInput's fields are RunLaunchSpec's (the queue is the spec's default).
    return RunLaunchSpec(**data)


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
            "dispatched_at",
            "created_at",
            "started_at",
            "finished_at",
            "url",
        ]

    def get_url(self, run: Run) -> str:
        return reverse("training:run-detail", args=[run.project.slug, run.pk])


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
        for a in run_artifacts(run=run)
    ]
    version = ModelVersion.objects.filter(run=run).first()
    return {
        **RunOutput(run).data,
        "spec": run.spec,
        "command": run_command(run=run),
        "log_tail": run_text_file(run=run, name="run.log", tail_bytes=LOG_TAIL_BYTES),
        "model_card": run_text_file(run=run, name="model_card.md"),
        "artifacts": artifacts,
        "model_version": {"id": version.pk, "name": version.name, "path": version.path} if version else None,
        "model_zip_url": reverse("training:model-download", args=[run.project.slug, run.pk])
        if version
        else None,
        "result": run_result(run=run),
    }


class ArenaLaunchInput(serializers.Serializer):
    """What an arena launch takes, from the API (JSON) or the page (form fields)."""

    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    model_versions = serializers.ListField(child=serializers.IntegerField(), required=False, default=list)
    base_models = serializers.ListField(
        child=serializers.CharField(max_length=500), required=False, default=list
    )
    prompt_ids = serializers.ListField(child=serializers.IntegerField(), required=False, default=list)
    prompt_round = serializers.IntegerField(
        required=False, allow_null=True, default=None, min_value=0, max_value=INT32_MAX
    )
    limit = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=1)
    round = serializers.IntegerField(
        required=False, allow_null=True, default=None, min_value=0, help_text="default: the current round"
    )
    k = serializers.IntegerField(required=False, default=1)
    temperature = serializers.FloatField(required=False, default=0.7)
    top_p = serializers.FloatField(required=False, default=1.0)
    max_new_tokens = serializers.IntegerField(required=False, default=128)
    batch_size = serializers.IntegerField(required=False, default=8)
    seed = serializers.IntegerField(required=False, default=0, min_value=INT32_MIN, max_value=INT32_MAX)


def arena_launch_input(*, project: Project, raw: object) -> ArenaLaunchSpec:
    """The arena a request asks for; model versions are looked up within the project's reach.
    Raises ValidationFailed naming the field."""
    data = validated(ArenaLaunchInput(data=raw))
    wanted = set(data["model_versions"])
    versions = list(model_version_list(project=project).filter(pk__in=wanted))
    if len(versions) != len(wanted):
        raise ValidationFailed(
            "model_versions: not all are model versions of this project.",
            details=[{"field": "model_versions", "reason": "not all are model versions of this project"}],
        )
    order = {pk: i for i, pk in enumerate(data["model_versions"])}
    data["model_versions"] = sorted(versions, key=lambda v: order[v.pk])
    # ArenaLaunchInput's fields are ArenaLaunchSpec's.
    return ArenaLaunchSpec(**data)


class GenerationLaunchInput(serializers.Serializer):
    """What a launch takes, from the API (JSON) or the page (form fields)."""

    source = serializers.ChoiceField(choices=GenerationJob.Source.choices)
    base_model = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    model_version = serializers.IntegerField(required=False, allow_null=True, default=None)
    endpoint_model = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    k = serializers.IntegerField(required=False, default=2)
    temperature = serializers.FloatField(required=False, default=1.0)
    top_p = serializers.FloatField(required=False, default=1.0)
    max_new_tokens = serializers.IntegerField(required=False, default=128)
    batch_size = serializers.IntegerField(required=False, default=8)
    seed = serializers.IntegerField(required=False, default=0, min_value=INT32_MIN, max_value=INT32_MAX)
    prompt_ids = serializers.ListField(child=serializers.IntegerField(), required=False, default=list)
    prompt_round = serializers.IntegerField(
        required=False, allow_null=True, default=None, min_value=0, max_value=INT32_MAX
    )
    limit = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=1)
    round = serializers.IntegerField(required=False, default=0, min_value=0, max_value=INT32_MAX)


def generation_launch_input(*, project: Project, raw: object) -> GenerationLaunchSpec:
    """The generation job a request asks for, of its one source; the model version is looked up
    within the project's reach. Raises ValidationFailed."""
    data = validated(GenerationLaunchInput(data=raw))
    source = data.pop("source")
    version_id = data.pop("model_version")
    model_version = None
    if source == GenerationJob.Source.VERSION:
        model_version = model_version_list(project=project).filter(pk=version_id).first()
        if model_version is None:
            raise ValidationFailed(
                "Choose a model version.", details=[{"field": "model_version", "reason": "not found"}]
            )
    if source != GenerationJob.Source.BASE:
        data["base_model"] = ""
    if source != GenerationJob.Source.ENDPOINT:
        data["endpoint_model"] = ""
    # The other fields of GenerationLaunchInput are GenerationLaunchSpec's.
    return GenerationLaunchSpec(
        **data, model_version=model_version, use_endpoint=source == GenerationJob.Source.ENDPOINT
    )


REPORT_LIMIT_MAX = 1000


def _reward_version(project: Project, version_id: object, field: str = "model_version") -> ModelVersion:
    version = reward_version_list(project=project).filter(pk=version_id).first() if version_id else None
    if version is None:
        raise ValidationFailed(
            "Choose a reward model version of this project.",
            details=[{"field": field, "reason": "not a reward model version of this project"}],
        )
    return version


class ScoringLaunchInput(serializers.Serializer):
    """What a launch takes, from the API (JSON) or the page (form fields)."""

    model_version = serializers.IntegerField()
    selection = serializers.ChoiceField(choices=ScoringJob.Selection.choices, required=False, default="all")
    round = serializers.IntegerField(
        required=False, allow_null=True, default=None, min_value=0, max_value=INT32_MAX
    )
    batch_size = serializers.IntegerField(required=False, default=16)
    max_length = serializers.IntegerField(required=False, default=1024)


def scoring_launch_input(*, project: Project, raw: object) -> ScoringLaunchSpec:
    """The scoring job a request asks for, the version looked up among the project's reward model
    versions. Raises ValidationFailed naming the field."""
    data = validated(ScoringLaunchInput(data=raw))
    data["model_version"] = _reward_version(project, data["model_version"])
    # ScoringLaunchInput's fields are ScoringLaunchSpec's.
    return ScoringLaunchSpec(**data)


class ScoreReportInput(serializers.Serializer):
    model_version = serializers.IntegerField()
    limit = serializers.IntegerField(required=False, default=100, min_value=1, max_value=REPORT_LIMIT_MAX)


def score_report_for(*, project: Project, raw: object) -> ScoreReport:
    """The score report a request asks for; raises ValidationFailed naming the field."""
    data = validated(ScoreReportInput(data=raw))
    version = _reward_version(project, data["model_version"])
    return score_report(project=project, model_version=version, limit=data["limit"])
