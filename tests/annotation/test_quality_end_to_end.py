"""Synthetic annotators judge through the real lease, skip and submit services; the quality API
tells the careful ones from a random clicker and a left-clicker.

The services shuffle the shown order and mix gold items with a system RNG, so the assertions
compare careful with careless annotators (the gap is about 0.4 in agreement) or rest on
behaviour that does not depend on chance (the left-clicker's first-shown rate, the fast clicker's
timing).
"""

from __future__ import annotations

import random
import uuid

import pytest
from django.contrib.auth.models import AbstractBaseUser
from django.test import Client
from django.urls import reverse

from annotation.models import ComparisonCandidate, Membership, Project
from annotation.services.assigning import assignment_skip, comparison_lease
from annotation.services.judging import judgment_submit
from tests.factories import MembershipFactory, UserFactory, make_answer, make_comparison

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_passwords(settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _work_through_queue(project: Project, user: AbstractBaseUser, behaviour: str, rng: random.Random) -> None:
    """Lease and answer until nothing is left; the candidate in slot 0 is always the better one."""
    while (assignment := comparison_lease(project=project, annotator=user)) is not None:
        shown = assignment.presented_order
        better = ComparisonCandidate.objects.get(
            comparison_id=assignment.comparison_id, position=0
        ).candidate_id
        worse = next(c for c in shown if c != better)
        if behaviour == "skipper" and rng.random() < 0.5:
            assignment_skip(project=project, annotator=user, assignment_id=assignment.pk, reason="unsure")
            continue
        if behaviour in ("careful", "skipper"):
            winner = better if rng.random() < 0.95 else worse
        elif behaviour == "random":
            winner = rng.choice(shown)
        else:  # "left": always the candidate shown first
            winner = shown[0]
        judgment_submit(
            project=project,
            annotator=user,
            assignment_id=assignment.pk,
            submission_token=uuid.uuid4().hex,
            answer=make_answer(project=project, ordering=[[winner], [next(c for c in shown if c != winner)]]),
            time_spent_ms=rng.randint(300, 900) if behaviour == "random" else rng.randint(4000, 9000),
        )


def test_quality_api_separates_synthetic_annotators_judging_through_the_services() -> None:
    rng = random.Random(3)
    project = Project.objects.create(name="Project A", slug="project-a", overlap=6, gold_rate=0.3)
    admin = UserFactory(username="alice")
    MembershipFactory(project=project, user=admin, role=Membership.Role.ADMIN)
    for i in range(36):
        comparison = make_comparison(project=project)
        if i < 6:
            better, worse = comparison.slots.values_list("candidate_id", flat=True)
            comparison.gold_ordering = [[better], [worse]]
            comparison.save()
    behaviours = {
        "carol": "careful",
        "dan": "careful",
        "fay": "careful",
        "erin": "skipper",
        "rob": "random",
        "lefty": "left",
    }
    for name, behaviour in behaviours.items():
        user = UserFactory(username=name)
        MembershipFactory(project=project, user=user)
        _work_through_queue(project, user, behaviour, rng)

    client = Client()
    client.force_login(admin)
    data = client.get(reverse("api:project-quality", args=["project-a"])).json()
    scores = {a["username"]: a for a in data["annotators"]}
    assert data["progress"]["comparisons"] == 36
    careful = [scores[name] for name in ("carol", "dan", "fay", "erin")]
    for score in careful:
        assert {"low agreement with consensus", "too fast"}.isdisjoint(score["flags"])
    # Gold items were mixed into the queues and scored (their statistics are tested on their own).
    assert sum(score["gold_pairs"] for score in scores.values()) > 0
    # The skipper's skips show in her skip rate, not as a flag.
    assert 0.2 < scores["erin"]["skip_rate"] < 0.8
    rob, lefty = scores["rob"], scores["lefty"]
    assert rob["consensus_agreement"] < min(s["consensus_agreement"] for s in careful)
    assert "too fast" in rob["flags"]
    # lefty judges at least the 30 regular comparisons (how many gold ones varies with the draws),
    # all for the left slot: p = 2 × 0.5^30 ≈ 1.9e-9 at most.
    assert lefty["position_bias"]["rate"] == 1.0 and lefty["position_bias"]["p_value"] < 1e-8
    assert "position bias" in lefty["flags"]
    assert lefty["consensus_agreement"] < min(s["consensus_agreement"] for s in careful)
    assert {rob["annotator_id"], lefty["annotator_id"]} <= set(data["flagged"])
    # Slot 0 (model-0) is the better candidate everywhere, and the careful majority says so.
    assert data["leaderboard"][0]["model"] == "model-0"
