"""Alignment runs: dataset snapshots, runs, their metrics and the model versions they produce.

Models hold data and integrity only; every write goes through training.services.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.db import models
from django.db.models import Q


class Method(models.TextChoices):
    SFT = "sft", "SFT (supervised fine-tuning)"
    REWARD = "reward", "Reward model"
    DPO = "dpo", "DPO"
    PPO = "ppo", "PPO"
    RLOO = "rloo", "RLOO"


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class EngineJob(models.Model):
    """What every job that runs the engine on a worker has: a status, the worker's heartbeat, the attempt,
    the error, the engine's process and output directory (with its log, LOG_FILE), and a cancel request.

    training.jobs executes all of them alike: claim, start the engine, tail its output, heartbeat and
    cancel, finish or fail; beat fails those whose heartbeat went stale (training.jobs.reaping).
    """

    Status = JobStatus
    FINISHED = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)
    # The engine's stdout and stderr, under output_dir.
    LOG_FILE = "engine.log"

    queue = models.CharField(max_length=64, default="gpu")
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    pid = models.IntegerField(null=True, blank=True)
    output_dir = models.CharField(max_length=500, blank=True)
    # 1 for the first execution; each retry adds one.
    attempt = models.PositiveIntegerField(default=1)
    cancel_requested = models.BooleanField(default=False)
    # When the broker took the execution task; empty while it waits for a broker (training.services.dispatch).
    dispatched_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def log_path(self) -> Path:
        return Path(self.output_dir) / self.LOG_FILE


class DatasetSnapshot(models.Model):
    """A frozen export of one or more projects: files and a manifest under DATA_DIR/snapshots/<id>-<random>/.

    Immutable once ready: nothing updates the files, the manifest or the filters afterwards.
    """

    class Status(models.TextChoices):
        BUILDING = "building", "Building"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    name = models.CharField(max_length=200)
    projects = models.ManyToManyField("annotation.Project", related_name="snapshots")
    # The export parameters as given (ExportSpec fields); the manifest repeats them.
    filters = models.JSONField(default=dict, blank=True)
    # The rounds its rows come from: the "round" filter's, or without one every round of the projects
    # with judged comparisons when it was built.
    rounds = models.JSONField(default=list, blank=True)
    split_seed = models.IntegerField(default=0)
    eval_fraction = models.FloatField(default=0.1)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.BUILDING)
    manifest = models.JSONField(default=dict, blank=True)
    directory = models.CharField(max_length=500, blank=True)
    # sha256 of manifest.json, which lists the sha256 of every file.
    sha256 = models.CharField(max_length=64, blank=True)
    train_rows = models.PositiveIntegerField(default=0)
    eval_rows = models.PositiveIntegerField(default=0)
    sft_rows = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    # When the broker took the build task; empty while it waits for a broker (training.services.dispatch).
    dispatched_at = models.DateTimeField(null=True, blank=True)
    # The building worker's last sign of life: set when it claims the build, renewed as it writes rows.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(eval_fraction__gte=0.0, eval_fraction__lt=1.0),
                name="snapshot_eval_fraction_0_to_1",
            ),
        ]

    def __str__(self) -> str:
        return f"Snapshot {self.pk}: {self.name}"


class ModelVersion(models.Model):
    """A trained adapter or model a run produced (or a registered base), usable as a base or reward model."""

    name = models.CharField(max_length=200)
    run = models.OneToOneField(
        "Run", null=True, blank=True, on_delete=models.SET_NULL, related_name="model_version"
    )
    # Directory loadable by transformers (an adapter dir or a full model).
    path = models.CharField(max_length=500)
    method = models.CharField(max_length=16, choices=Method.choices)
    # The model it was trained from: an HF id or a local path.
    base = models.CharField(max_length=500)
    is_reward_model = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.name


class Run(EngineJob):
    """One execution of the engine on a snapshot; its spec is frozen at launch."""

    LOG_FILE = "run.log"

    project = models.ForeignKey("annotation.Project", on_delete=models.CASCADE, related_name="runs")
    name = models.CharField(max_length=200, blank=True)
    method = models.CharField(max_length=16, choices=Method.choices)
    # Either a base model (HF id or path) or a ModelVersion to continue from.
    base_model = models.CharField(max_length=500, blank=True)
    base_version = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="derived_runs"
    )
    snapshot = models.ForeignKey(DatasetSnapshot, on_delete=models.PROTECT, related_name="runs")
    reward_version = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="rewarded_runs"
    )
    # The round of the data it trains on: given at launch, else the newest of its snapshot's rounds.
    round = models.PositiveIntegerField(default=0)
    # The normalised engine spec (output of `python -m training.engine validate`).
    spec = models.JSONField(default=dict)
    step = models.PositiveIntegerField(default=0)
    total_steps = models.PositiveIntegerField(default=0)
    eta_seconds = models.FloatField(null=True, blank=True)
    launched_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(base_model="") | Q(base_version__isnull=False), name="run_has_base_model"
            ),
            models.CheckConstraint(
                condition=~Q(method__in=["ppo", "rloo"]) | Q(reward_version__isnull=False),
                name="run_rl_has_reward_model",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "heartbeat_at"]),
            models.Index(fields=["project", "-id"]),
            models.Index(fields=["project", "round"]),
        ]

    def __str__(self) -> str:
        return f"Run {self.pk} ({self.method}, {self.status})"

    @property
    def progress(self) -> float:
        return min(1.0, self.step / self.total_steps) if self.total_steps else 0.0


class RunMetric(models.Model):
    """One line of the engine's metrics.jsonl: a training or an eval logging step."""

    class Kind(models.TextChoices):
        TRAIN = "train", "Train"
        EVAL = "eval", "Eval"

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="metrics")
    step = models.PositiveIntegerField()
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.TRAIN)
    data = models.JSONField()

    class Meta:
        ordering = ["step", "kind"]
        constraints = [models.UniqueConstraint(fields=["run", "step", "kind"], name="runmetric_unique_step")]

    def __str__(self) -> str:
        return f"{self.run_id}@{self.step} {self.kind}"


class Artifact(models.Model):
    """A file a run produced (model card, result, log, a model file), relative to its output_dir."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="artifacts")
    kind = models.CharField(max_length=32)
    path = models.CharField(max_length=500)
    bytes = models.BigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["kind", "path"]
        constraints = [models.UniqueConstraint(fields=["run", "path"], name="artifact_unique_path")]

    def __str__(self) -> str:
        return f"{self.run_id}: {self.path}"


class GenerationJob(EngineJob):
    """Sampling k candidates per prompt of a project from a model version, a base model or an
    OpenAI-compatible endpoint; the results become Candidates and Comparisons of `round`."""

    class Source(models.TextChoices):
        VERSION = "version", "Model version"
        BASE = "base", "Base model (HF id or path)"
        ENDPOINT = "endpoint", "OpenAI-compatible endpoint"

    project = models.ForeignKey(
        "annotation.Project", on_delete=models.CASCADE, related_name="generation_jobs"
    )
    source = models.CharField(max_length=16, choices=Source.choices)
    model_version = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="generation_jobs"
    )
    base_model = models.CharField(max_length=500, blank=True)
    # For an endpoint: the served model's name and the base URL from settings at launch.
    endpoint_model = models.CharField(max_length=255, blank=True)
    endpoint_base_url = models.CharField(max_length=500, blank=True)
    k = models.PositiveSmallIntegerField(default=2)
    temperature = models.FloatField(default=1.0)
    top_p = models.FloatField(default=1.0)
    max_new_tokens = models.PositiveIntegerField(default=128)
    batch_size = models.PositiveIntegerField(default=8)
    seed = models.IntegerField(default=0)
    # The prompts chosen at launch (ids, frozen), and the round the results belong to.
    prompt_ids = models.JSONField(default=list)
    round = models.PositiveIntegerField(default=0)
    # One contestant of an arena: its candidates become the arena's blind battles, not comparisons
    # among themselves.
    arena = models.ForeignKey(
        "Arena", null=True, blank=True, on_delete=models.CASCADE, related_name="generation_jobs"
    )
    prompts_total = models.PositiveIntegerField(default=0)
    prompts_done = models.PositiveIntegerField(default=0)
    candidates_created = models.PositiveIntegerField(default=0)
    comparisons_created = models.PositiveIntegerField(default=0)
    # [{"prompt_id", "error"}] for each prompt the engine could not generate for.
    prompt_errors = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(source="version") & Q(model_version__isnull=False))
                | (Q(source="base") & ~Q(base_model=""))
                | (Q(source="endpoint") & ~Q(endpoint_model="")),
                name="generationjob_source_complete",
            ),
            models.CheckConstraint(condition=Q(k__gte=1), name="generationjob_k_positive"),
        ]
        indexes = [models.Index(fields=["project", "-id"]), models.Index(fields=["status", "heartbeat_at"])]

    def __str__(self) -> str:
        return f"Generation {self.pk} ({self.source_name}, {self.status})"

    @property
    def source_name(self) -> str:
        """The name recorded as the candidates' model_name."""
        if self.source == self.Source.VERSION and self.model_version_id:
            return self.model_version.name
        return self.base_model if self.source == self.Source.BASE else self.endpoint_model

    @property
    def progress(self) -> float:
        return min(1.0, self.prompts_done / self.prompts_total) if self.prompts_total else 0.0


class Arena(models.Model):
    """Blind pairwise battles between two or more model versions (or base models) on held-out prompts.

    Each contestant is one GenerationJob (arena set) on the same frozen prompts; once every job has
    finished, the candidates of different contestants are paired into Comparisons (arena=True, model
    names hidden from annotators) of `round`, and the leaderboard is read from their judgments.
    """

    class Status(models.TextChoices):
        GENERATING = "generating", "Generating"
        JUDGING = "judging", "Judging"
        FAILED = "failed", "Failed"

    project = models.ForeignKey("annotation.Project", on_delete=models.CASCADE, related_name="arenas")
    name = models.CharField(max_length=200, blank=True)
    # The round its comparisons belong to (the round whose newest policy it evaluates).
    round = models.PositiveIntegerField(default=0)
    prompt_ids = models.JSONField(default=list)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.GENERATING)
    error = models.TextField(blank=True)
    comparisons = models.ManyToManyField("annotation.Comparison", blank=True, related_name="arenas")
    built_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["project", "-id"])]

    def __str__(self) -> str:
        return f"Arena {self.pk} ({self.status})"


class ArenaEntry(models.Model):
    """A candidate one contestant (generation job) of an arena produced for one of its prompts.

    Kept apart from Candidate.model_name because identical texts are stored once: a candidate two
    contestants both wrote has two entries, and is left out of the battles.
    """

    arena = models.ForeignKey(Arena, on_delete=models.CASCADE, related_name="entries")
    job = models.ForeignKey(GenerationJob, on_delete=models.CASCADE, related_name="arena_entries")
    candidate = models.ForeignKey("annotation.Candidate", on_delete=models.CASCADE, related_name="+")
    sample = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["job_id", "candidate__prompt_id", "sample"]
        constraints = [
            models.UniqueConstraint(fields=["job", "candidate"], name="arenaentry_unique_candidate"),
        ]

    def __str__(self) -> str:
        return f"Arena {self.arena_id}: job {self.job_id} → candidate {self.candidate_id}"


class ScoringJob(EngineJob):
    """Scoring a project's candidates with a reward model version; the scores become CandidateScores."""

    class Selection(models.TextChoices):
        ALL = "all", "Every candidate"
        ROUND = "round", "The candidates of one round"
        UNSCORED = "unscored", "Candidates this model has not scored"

    project = models.ForeignKey("annotation.Project", on_delete=models.CASCADE, related_name="scoring_jobs")
    model_version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="scoring_jobs")
    selection = models.CharField(max_length=16, choices=Selection.choices, default=Selection.ALL)
    round = models.PositiveIntegerField(null=True, blank=True)
    batch_size = models.PositiveIntegerField(default=16)
    max_length = models.PositiveIntegerField(default=1024)
    # The candidates chosen at launch (ids, frozen).
    candidate_ids = models.JSONField(default=list)
    candidates_total = models.PositiveIntegerField(default=0)
    candidates_scored = models.PositiveIntegerField(default=0)
    candidates_failed = models.PositiveIntegerField(default=0)
    # [{"candidate_id", "error"}], the first ITEM_ERRORS_KEPT of them (candidates_failed counts all).
    item_errors = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    ITEM_ERRORS_KEPT = 100

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(selection="round") | Q(round__isnull=False), name="scoringjob_round_given"
            ),
        ]
        indexes = [models.Index(fields=["project", "-id"]), models.Index(fields=["status", "heartbeat_at"])]

    def __str__(self) -> str:
        return f"Scoring {self.pk} ({self.model_version_id}, {self.status})"

    @property
    def candidates_done(self) -> int:
        return self.candidates_scored + self.candidates_failed

    @property
    def progress(self) -> float:
        return min(1.0, self.candidates_done / self.candidates_total) if self.candidates_total else 0.0


class CandidateScore(models.Model):
    """A reward model version's score of one candidate (the latest scoring replaces an earlier one).

    For project admins only: never part of what annotators see."""

    candidate = models.ForeignKey("annotation.Candidate", on_delete=models.CASCADE, related_name="scores")
    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="candidate_scores")
    score = models.FloatField()
    # The input was longer than the job's max_length and lost its first tokens.
    truncated = models.BooleanField(default=False)
    job = models.ForeignKey(
        ScoringJob, null=True, blank=True, on_delete=models.SET_NULL, related_name="scores"
    )
    scored_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["model_version", "candidate"], name="candidatescore_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.candidate_id} by {self.model_version_id}: {self.score:.3f}"
