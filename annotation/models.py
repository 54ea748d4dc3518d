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
    # Quality thresholds, the fields of annotation.quality.annotators.Thresholds under the same
    # names and with its defaults (tests/annotation/test_models.py keeps the two in step).
    min_items = models.PositiveIntegerField(
        default=10,
        validators=[MinValueValidator(1), MaxValueValidator(100_000)],
        help_text="Judgments an annotator needs before any flag is raised.",
    )
    min_consensus_agreement = models.FloatField(
        default=0.6,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Flag annotators whose agreement with the others' consensus is below this (0–1).",
    )
    min_gold_accuracy = models.FloatField(
        default=0.7,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Flag annotators whose accuracy on gold items is below this (0–1).",
    )
    min_gold_pairs = models.PositiveIntegerField(
        default=5,
        validators=[MinValueValidator(1), MaxValueValidator(100_000)],
        help_text="Gold candidate pairs an annotator needs before gold accuracy can flag them.",
    )
    bias_p_value = models.FloatField(
        default=0.001,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Flag position bias when the binomial test's p is below this (0 turns the flag off).",
    )
    min_bias_effect = models.FloatField(
        default=0.1,
        validators=[MinValueValidator(0.0), MaxValueValidator(0.5)],
        help_text="…and the first-shown win rate is at least this far from 0.5 (0–0.5).",
    )
    min_median_seconds = models.FloatField(
        default=2.0,
        validators=[MinValueValidator(0.0), MaxValueValidator(3600.0)],
        help_text="Flag annotators whose median time per judgment is below this many seconds.",
    )
    review_min_agreement = models.FloatField(
        default=0.6,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Comparisons whose agreement is below this go to the review queue (0–1).",
    )
    # Which comparisons annotators get first (annotation.quality.ordering); kept in Comparison.priority.
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
            models.CheckConstraint(
                condition=Q(
                    min_consensus_agreement__gte=0.0,
                    min_consensus_agreement__lte=1.0,
                    min_gold_accuracy__gte=0.0,
                    min_gold_accuracy__lte=1.0,
                    bias_p_value__gte=0.0,
                    bias_p_value__lte=1.0,
                    min_bias_effect__gte=0.0,
                    min_bias_effect__lte=0.5,
                    min_median_seconds__gte=0.0,
                    review_min_agreement__gte=0.0,
                    review_min_agreement__lte=1.0,
                ),
                name="project_quality_thresholds_in_range",
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
    # Free key → value labels set by project admins (e.g. {"language": "de", "expertise": "law"}),
    # for the dashboard's per-group breakdowns; checked by services.projects.membership_attributes_set.
    attributes = models.JSONField(default=dict, blank=True)
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
    # Each message's content as sanitised HTML (annotation.rendering), in message order, stored by
    # annotation.services.prerendering so that showing the prompt does not render it again; null
    # until then, and the page renders it itself.
    messages_html = models.JSONField(null=True, blank=True)
    round = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "content_hash"], name="prompt_unique_content"),
        ]
        indexes = [
            models.Index(fields=["project", "external_id"]),
            # What is left to render, found without reading the rendered rows.
            models.Index(
                fields=["id"], condition=models.Q(messages_html__isnull=True), name="prompt_unrendered"
            ),
        ]

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
    # The text as sanitised HTML, as Prompt.messages_html.
    html = models.TextField(null=True, blank=True)
    round = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["prompt", "content_hash"], name="candidate_unique_content"),
        ]
        indexes = [
            models.Index(fields=["id"], condition=models.Q(html__isnull=True), name="candidate_unrendered")
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
    # A blind battle of an arena between model versions (training.models.Arena): annotators never see
    # its model names, whatever the project's setting, and exports leave it out unless asked.
    arena = models.BooleanField(default=False)
    # Submitted judgments, kept in step by the judging service so the pool query stays cheap.
    judgment_count = models.PositiveIntegerField(default=0)
    # Judgments wanted beyond project.overlap: a reviewer sent the comparison back for more.
    extra_judgments = models.PositiveSmallIntegerField(default=0)
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
            # The same order for the few comparisons a reviewer sent back (their own pool).
            models.Index(
                fields=["project", "-priority", "judgment_count", "id"],
                condition=Q(extra_judgments__gt=0),
                name="comparison_sent_back",
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


class JudgmentTally(models.Model):
    """How many judgments an annotator recorded in a project on one day (in TIME_ZONE).

    The annotate page shows an annotator's done counts with every item; summing these few rows
    costs the same whatever their history, where counting their judgments grew with it. Written
    with each judgment, in its transaction (annotation.services.judging).
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    judgments = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "annotator", "day"], name="judgment_tally_unique")
        ]

    def __str__(self) -> str:
        return f"{self.annotator} in {self.project}: {self.judgments} on {self.day}"


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


class Review(models.Model):
    """A reviewer's decision on a comparison. Annotators' Judgment rows are never edited: an
    override is this row, and exports read it (annotation.services.exporting)."""

    class Decision(models.TextChoices):
        ACCEPT = "accept", "Accept the consensus"
        OVERRIDE = "override", "Override"
        SEND_BACK = "send_back", "Send back for more judgments"

    # Accept and override settle a comparison; a send back only asks for more judgments.
    SETTLING = (Decision.ACCEPT, Decision.OVERRIDE)

    comparison = models.ForeignKey(Comparison, on_delete=models.CASCADE, related_name="reviews")
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="reviews"
    )
    decision = models.CharField(max_length=16, choices=Decision.choices)
    # Tiers of candidate ids, best first: the reviewer's own (override) or the consensus accepted,
    # as it stood then (accept); null for a send back.
    ordering = models.JSONField(null=True, blank=True)
    note = models.TextField(blank=True)
    # Send back: how many more judgments were asked for.
    extra_judgments = models.PositiveSmallIntegerField(default=0)
    # The comparison's judgments when the review was made (a send back waits for more than this).
    judgment_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            # One settling decision per comparison, whoever makes it and however often it is retried.
            models.UniqueConstraint(
                fields=["comparison"],
                condition=Q(decision__in=["accept", "override"]),
                name="review_one_settling_decision",
            ),
            models.CheckConstraint(
                condition=Q(decision="send_back", extra_judgments__gte=1)
                | Q(decision__in=["accept", "override"], ordering__isnull=False),
                name="review_decision_has_its_data",
            ),
        ]
        indexes = [models.Index(fields=["comparison", "-id"], name="review_comparison_latest")]

    def __str__(self) -> str:
        return f"{self.decision} of comparison {self.comparison_id} by {self.reviewer}"


class AuditEvent(models.Model):
    """Who did what, when: imports, exports, run and arena launches, role and settings changes and
    reviews, for project admins."""

    class Action(models.TextChoices):
        IMPORT = "import", "Import"
        EXPORT = "export", "Export"
        RUN_LAUNCH = "run_launch", "Run launch"
        ARENA_LAUNCH = "arena_launch", "Arena launch"
        ROLE_CHANGE = "role_change", "Role change"
        MEMBER_REMOVE = "member_remove", "Member removal"
        MEMBER_ATTRIBUTES = "member_attributes", "Member attributes"
        PROJECT_UPDATE = "project_update", "Settings change"
        REVIEW = "review", "Review"

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
