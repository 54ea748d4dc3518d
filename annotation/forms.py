"""HTML forms of the project admin pages; they parse input, the services decide and write."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import Q

from annotation.models import Membership, Project
from annotation.services.import_formats import FORMATS
from annotation.services.projects import MODE_SIZE_RULE, QUALITY_FIELDS, SETTINGS_FIELDS, mode_size_fits


class ProjectSettingsForm(forms.ModelForm):
    rating_criteria = forms.CharField(
        required=False,
        help_text="Comma-separated, e.g. helpfulness, harmlessness, honesty. Leave empty for no ratings.",
    )

    class Meta:
        model = Project
        fields = list(SETTINGS_FIELDS)
        widgets = {
            "guidelines": forms.Textarea(attrs={"rows": 10}),
            "candidates_per_comparison": forms.NumberInput(attrs={"min": 2, "max": 4}),
        }
        labels = {
            "candidates_per_comparison": "Candidates per comparison",
            "asks_demonstrations": "Ask annotators for demonstrations (a better answer)",
            "hides_model_names": "Hide model names from annotators",
            "gold_rate": "Gold rate",
            "min_items": "Judgments before flags",
            "min_consensus_agreement": "Minimum agreement with consensus",
            "min_gold_accuracy": "Minimum gold accuracy",
            "min_gold_pairs": "Gold pairs before the gold flag",
            "bias_p_value": "Position bias: p-value below",
            "min_bias_effect": "Position bias: distance from 0.5 at least",
            "min_median_seconds": "Minimum median seconds per judgment",
            "review_min_agreement": "Review comparisons with agreement below",
            "queue_order": "Queue order",
            "queue_model_version": "Reward model for the uncertainty order",
        }
        help_texts = {
            "candidates_per_comparison": "2 for pairwise; 3 or 4 for ranking.",
            "pairing": "Pairwise only: which pairs of a prompt's candidates become comparisons.",
            "lease_minutes": "How long an annotator holds a comparison before it returns to the pool.",
            "queue_order": "Which comparisons annotators get first. Uncertainty uses the reward model's "
            "scores (score candidates on the Scores page); disagreement puts split judgments first "
            "(useful with overlap 3 or more).",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.initial["rating_criteria"] = ", ".join(self.instance.rating_criteria or [])
        # The project's own reward models and shared ones (registered without a run).
        reach = (
            Q(run__isnull=True) | Q(run__project=self.instance) if self.instance.pk else Q(run__isnull=True)
        )
        versions = self.fields["queue_model_version"]
        versions.queryset = versions.queryset.filter(reach)

    def clean_rating_criteria(self) -> list[str]:
        return [c.strip() for c in self.cleaned_data["rating_criteria"].split(",") if c.strip()]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        mode, size = data.get("mode"), data.get("candidates_per_comparison")
        if mode and size is not None and not mode_size_fits(mode=mode, candidates_per_comparison=size):
            # On the field, which also spares the model's constraint check its generic message.
            self.add_error("candidates_per_comparison", MODE_SIZE_RULE)
        return data

    def settings(self) -> dict[str, Any]:
        """The cleaned values as keyword arguments for project_create / project_update."""
        return {f: self.cleaned_data[f] for f in SETTINGS_FIELDS if f != "name" and f in self.fields}

    def general_fields(self) -> list[forms.BoundField]:
        return [self[f] for f in self.fields if f not in QUALITY_FIELDS]

    def quality_fields(self) -> list[forms.BoundField]:
        return [self[f] for f in self.fields if f in QUALITY_FIELDS]


class ProjectCreateForm(ProjectSettingsForm):
    """The settings form less the quality thresholds, which start at their defaults."""

    class Meta(ProjectSettingsForm.Meta):
        fields = ["slug", *(f for f in SETTINGS_FIELDS if f not in QUALITY_FIELDS)]
        help_texts = {**ProjectSettingsForm.Meta.help_texts, "slug": "Short name used in URLs and commands."}


class MemberForm(forms.Form):
    username = forms.CharField(max_length=150)
    role = forms.ChoiceField(choices=Membership.Role.choices, initial=Membership.Role.ANNOTATOR)


class MemberAttributesForm(forms.Form):
    """A member's attributes as `key=value, key=value`; the projects service checks them."""

    attributes = forms.CharField(
        required=False,
        max_length=5000,
        help_text="e.g. language=de, expertise=law; empty clears them",
    )

    def clean_attributes(self) -> dict[str, str]:
        pairs: dict[str, str] = {}
        for part in self.cleaned_data["attributes"].split(","):
            if not part.strip():
                continue
            key, sep, value = part.partition("=")
            if not sep:
                raise forms.ValidationError(f"{part.strip()!r} is not key=value.")
            pairs[key.strip()] = value.strip()
        return pairs

    @staticmethod
    def text(attributes: dict[str, str]) -> str:
        # Sorted: PostgreSQL's jsonb keeps its own key order, not the order they were given in.
        return ", ".join(f"{key}={attributes[key]}" for key in sorted(attributes))


class ImportForm(forms.Form):
    file = forms.FileField(help_text="A .jsonl file: one JSON object per line.")
    format = forms.ChoiceField(
        choices=[(f, f) for f in FORMATS],
        initial="auto",
        required=False,
        help_text="auto recognises native, TRL preference and HH transcript lines.",
    )
    as_judgments = forms.BooleanField(
        required=False,
        label="Import preferences as judgments",
        help_text="TRL/HH rows: record chosen over rejected as imported judgments, not as unjudged pairs.",
    )
