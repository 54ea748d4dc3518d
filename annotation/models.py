"""Collected preference data: projects, prompts, candidates, comparisons and judgments.

Models hold data and integrity only; every write goes through annotation.services.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q


class Project(models.Model):
    class Mode(models.TextChoices):
        PAIRWISE = "pairwise", "Pairwise (A/B)"
        RANKING = "ranking", "Ranking (3–4 candidates)"

    class Pairing(models.TextChoices):
        ALL_PAIRS = "all_pairs", "Every candidate pair"
        ADJACENT = "adjacent", "Adjacent candidates in a ring"
        FIRST_VS_REST = "first_vs_rest", "First candidate against each other"

    class QueueOrder(models.TextChoices):
        DEFAULT = "default", "Default: fewest judgments first, then oldest"
        UNCERTAINTY = "uncertainty", "Uncertainty: smallest reward-model score gap first"
        DISAGREEMENT = "disagreement", "Disagreement: most split judgments first"

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, unique=True)
    guidelines = models.TextField(blank=True, help_text="Instructions for annotators, in markdown.")
    mode = models.CharField(max_length=16, choices=Mode.choices, default=Mode.PAIRWISE)
    pairing = models.CharField(max_length=16, choices=Pairing.choices, default=Pairing.ALL_PAIRS)
    candidates_per_comparison = models.PositiveSmallIntegerField(
        default=2, validators=[MinValueValidator(2), MaxValueValidator(4)]
    )
    overlap = models.PositiveSmallIntegerField(
        default=1, help_text="How many distinct annotators judge each comparison."
    )
    rating_criteria = models.JSONField(default=list, blank=True, help_text="e.g. helpfulness, harmlessness")
    rating_scale_max = models.PositiveSmallIntegerField(default=7)
    asks_demonstrations = models.BooleanField(default=False)
    hides_model_names = models.BooleanField(default=True)
    lease_minutes = models.PositiveIntegerField(default=30)
    edit_window_minutes = models.PositiveIntegerField(default=10)
    gold_rate = models.FloatField(default=0.0, help_text="Share of served items that are gold items.")
    # Which comparisons annotators get first (annotation.ordering); kept in Comparison.priority.
    queue_order = models.CharField(max_length=16, choices=QueueOrder.choices, default=QueueOrder.DEFAULT)
    # The reward model whose scores rank the queue under the uncertainty order.
    queue_model_version = models.ForeignKey(
        "training.ModelVersion",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        limit_choices_to={"is_reward_model": True},
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, through="Membership", related_name="projects")

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(candidates_per_comparison__gte=2, candidates_per_comparison__lte=4),
                name="project_candidates_per_comparison_2_to_4",
            ),
            models.CheckConstraint(
                condition=Q(mode="pairwise", candidates_per_comparison=2)
                | Q(mode="ranking", candidates_per_comparison__gte=3),
                name="project_mode_matches_candidates_per_comparison",
            ),
            models.CheckConstraint(condition=Q(overlap__gte=1), name="project_overlap_at_least_1"),
            models.CheckConstraint(
                condition=Q(gold_rate__gte=0.0, gold_rate__lte=1.0), name="project_gold_rate_0_to_1"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    class Role(models.TextChoices):
        ANNOTATOR = "annotator", "Annotator"
        REVIEWER = "reviewer", "Reviewer"
        ADMIN = "admin", "Admin"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.ANNOTATOR)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "user"], name="membership_unique_user")]

    def __str__(self) -> str:
        return f"{self.user} in {self.project} as {self.role}"


class ImportBatch(models.Model):
    """One import of one file: what it held and what it added."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="import_batches")
    file_name = models.CharField(max_length=255)
    file_sha256 = models.CharField(max_length=64)
    format = models.CharField(max_length=32)
    lines = models.PositiveIntegerField(default=0)
    prompts_created = models.PositiveIntegerField(default=0)
    candidates_created = models.PositiveIntegerField(default=0)
    comparisons_created = models.PositiveIntegerField(default=0)
    judgments_created = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.file_name} → {self.project}"


class Prompt(models.Model):
    """A conversation awaiting a completion: [{"role", "content"}, ...] ending with a user turn."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="prompts")
    external_id = models.CharField(max_length=255, blank=True)
    messages = models.JSONField()
    metadata = models.JSONField(default=dict, blank=True)
    content_hash = models.CharField(max_length=64)
    round = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "content_hash"], name="prompt_unique_content"),
        ]
        indexes = [models.Index(fields=["project", "external_id"])]

    def __str__(self) -> str:
        last = self.messages[-1]["content"] if self.messages else ""
        return last[:60]

    @property
    def text(self) -> str:
        """The last user turn, which is what a single-turn prompt is."""
        return self.messages[-1]["content"] if self.messages else ""


class Candidate(models.Model):
    """One completion of a prompt, with the model and parameters that produced it."""

    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="candidates")
    text = models.TextField()
    model_name = models.CharField(max_length=255, blank=True)
    generation_params = models.JSONField(default=dict, blank=True)
    content_hash = models.CharField(max_length=64)
    round = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["prompt", "content_hash"], name="candidate_unique_content"),
        ]

    def __str__(self) -> str:
        return f"{self.model_name or 'candidate'}: {self.text[:50]}"


class Comparison(models.Model):
    """One item to judge: a prompt with 2 candidates, or 3–4 to rank, in a stored order."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="comparisons")
    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="comparisons")
    candidates = models.ManyToManyField(Candidate, through="ComparisonCandidate", related_name="comparisons")
    # sha256 of the sorted candidate ids: the same set of candidates is one comparison per project.
    key = models.CharField(max_length=64)
    # A known answer for gold items: an ordering (list of tiers of candidate ids), else null.
    gold_ordering = models.JSONField(null=True, blank=True)
    # Higher first; set by the project's queue order (annotation.services.queueing), 0 by default.
    priority = models.IntegerField(default=0)
    round = models.PositiveIntegerField(default=0)
    # Submitted judgments, kept in step by the judging service so the pool query stays cheap.
    judgment_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "key"], name="comparison_unique_key")]
        indexes = [
            models.Index(fields=["project", "judgment_count", "-priority", "id"]),
            # The order in which the assigning service hands items out: lets the claim stop at the
            # first free row instead of sorting every open comparison of the project.
            models.Index(
                fields=["project", "-priority", "judgment_count", "id"], name="comparison_pool_order"
            ),
        ]

    def __str__(self) -> str:
        return f"Comparison {self.pk} of {self.project}"

    @property
    def is_gold(self) -> bool:
        return self.gold_ordering is not None


class ComparisonCandidate(models.Model):
    comparison = models.ForeignKey(Comparison, on_delete=models.CASCADE, related_name="slots")
    candidate = models.ForeignKey(Candidate, on_delete=models.CASCADE, related_name="slots")
    position = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["comparison", "position"], name="slot_unique_position"),
            models.UniqueConstraint(fields=["comparison", "candidate"], name="slot_unique_candidate"),
        ]

    def __str__(self) -> str:
        return f"{self.comparison_id}[{self.position}] = {self.candidate_id}"


class Assignment(models.Model):
    """An annotator's lease on a comparison."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SUBMITTED = "submitted", "Submitted"
        SKIPPED = "skipped", "Skipped"
        EXPIRED = "expired", "Expired"

    comparison = models.ForeignKey(Comparison, on_delete=models.CASCADE, related_name="assignments")
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assignments"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    # Candidate ids in the order this annotator is shown them, randomised per assignment.
    presented_order = models.JSONField(default=list)
    skip_reason = models.CharField(max_length=255, blank=True)
    leased_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["comparison", "annotator"], name="assignment_unique_annotator"),
        ]
        indexes = [
            models.Index(fields=["annotator", "status"]),
            models.Index(fields=["comparison", "status"]),
            models.Index(fields=["status", "expires_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.annotator} on {self.comparison_id} ({self.status})"


class Judgment(models.Model):
    """One annotator's answer on one comparison."""

    class Strength(models.TextChoices):
        NONE = "", "—"
        SLIGHTLY = "slightly", "Slightly better"
        CLEARLY = "clearly", "Clearly better"
        MUCH = "much", "Much better"

    class Source(models.TextChoices):
        ANNOTATOR = "annotator", "Annotator"
        IMPORTED = "imported", "Imported"

    FLAGS = ("unsafe", "both_bad", "unsure", "broken")

    comparison = models.ForeignKey(Comparison, on_delete=models.CASCADE, related_name="judgments")
    assignment = models.OneToOneField(
        Assignment, null=True, blank=True, on_delete=models.CASCADE, related_name="judgment"
    )
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="judgments"
    )
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.ANNOTATOR)
    # Best first; each tier is a list of candidate ids judged equal: [[a], [b]] or [[a, b]] for a tie.
    ordering = models.JSONField()
    strength = models.CharField(max_length=16, choices=Strength.choices, blank=True, default="")
    # {"<candidate id>": {"<criterion>": score}}
    ratings = models.JSONField(default=dict, blank=True)
    rationale = models.TextField(blank=True)
    flags = models.JSONField(default=list, blank=True)
    presented_order = models.JSONField(default=list, blank=True)
    time_spent_ms = models.PositiveIntegerField(default=0)
    submission_token = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["comparison", "annotator"],
                condition=Q(annotator__isnull=False),
                name="judgment_unique_annotator",
            ),
        ]
        indexes = [models.Index(fields=["annotator", "created_at"])]

    def __str__(self) -> str:
        return f"Judgment {self.pk} on {self.comparison_id}"

    @property
    def is_tie(self) -> bool:
        return len(self.ordering) == 1


class Demonstration(models.Model):
    """A better answer written (or edited from a candidate) by an annotator."""

    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="demonstrations")
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="demonstrations",
    )
    comparison = models.ForeignKey(
        Comparison, null=True, blank=True, on_delete=models.SET_NULL, related_name="demonstrations"
    )
    based_on = models.ForeignKey(
        Candidate, null=True, blank=True, on_delete=models.SET_NULL, related_name="demonstrations"
    )
    text = models.TextField()
    submission_token = models.CharField(max_length=64, unique=True, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=~Q(text=""), name="demonstration_text_not_empty"),
        ]

    def __str__(self) -> str:
        return f"Demonstration {self.pk} for prompt {self.prompt_id}"


class AuditEvent(models.Model):
    """Who did what, when: imports, exports, run launches and role changes, for project admins."""

    class Action(models.TextChoices):
        IMPORT = "import", "Import"
        EXPORT = "export", "Export"
        RUN_LAUNCH = "run_launch", "Run launch"
        ROLE_CHANGE = "role_change", "Role change"
        MEMBER_REMOVE = "member_remove", "Member removal"
        PROJECT_UPDATE = "project_update", "Settings change"

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=32, choices=Action.choices)
    project = models.ForeignKey(
        Project, null=True, blank=True, on_delete=models.CASCADE, related_name="audit_events"
    )
    # What was acted on, in words: a file name, a username, "run 12".
    target = models.CharField(max_length=255, blank=True)
    details = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["project", "-at"])]

    def __str__(self) -> str:
        return f"{self.actor} {self.action} {self.target} at {self.at:%Y-%m-%d %H:%M}"
