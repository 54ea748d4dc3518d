"""Synthetic annotators working through a project's queue with the real lease and submit services,
so that a demo or a test has judgments whose quality is known."""

from __future__ import annotations

import random
import uuid

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from annotation.models import ComparisonCandidate, Membership, Project
from annotation.quality.simulation import simulated_ordering, simulated_time_ms, true_order
from annotation.services.assigning import comparison_lease
from annotation.services.judging import answer_parse, judgment_submit


def annotators_simulate(*, project: Project, behaviours: dict[str, int], seed: int = 0) -> dict[str, int]:
    """Let `behaviours[b]` annotators of each behaviour (careful, random, left) judge until their
    queue is empty; returns judgments submitted per annotator username.

    Users are named sim-<behaviour>-<n> and joined as annotators; running again continues where
    the queue stands, so it is safe to repeat.
    """
    rng = random.Random(seed)
    team = [
        (behaviour, _annotator_ensure(project=project, username=f"sim-{behaviour}-{n}"))
        for behaviour, count in behaviours.items()
        for n in range(1, count + 1)
    ]
    submitted = {user.username: 0 for _, user in team}
    # Take turns, one item each, as people working at the same time would: with an overlap below
    # the team's size, who judges what is then mixed rather than the first ones taking everything.
    while team:
        for behaviour, user in list(team):
            if not _judge_next(project=project, annotator=user, behaviour=behaviour, rng=rng):
                team.remove((behaviour, user))
                continue
            submitted[user.username] += 1
    return submitted


def _judge_next(*, project: Project, annotator: AbstractBaseUser, behaviour: str, rng: random.Random) -> bool:
    """Lease and answer one item; False when nothing is left for this annotator."""
    assignment = comparison_lease(project=project, annotator=annotator)
    if assignment is None:
        return False
    slots = list(
        ComparisonCandidate.objects.filter(comparison_id=assignment.comparison_id)
        .order_by("position")
        .values_list("candidate_id", "candidate__model_name", "comparison__prompt__metadata")
    )
    truth = true_order(
        slots=[c for c, _, _ in slots],
        models={c: name for c, name, _ in slots},
        quality_order=(slots[0][2] or {}).get("quality_order", []) if slots else [],
        gold=assignment.comparison.gold_ordering,
    )
    ordering = simulated_ordering(behaviour=behaviour, shown=assignment.presented_order, truth=truth, rng=rng)
    judgment_submit(
        project=project,
        annotator=annotator,
        assignment_id=assignment.pk,
        submission_token=uuid.uuid4().hex,
        answer=answer_parse({"ordering": ordering}, project=project),
        time_spent_ms=simulated_time_ms(behaviour=behaviour, rng=rng),
    )
    return True


@transaction.atomic
def _annotator_ensure(*, project: Project, username: str) -> AbstractBaseUser:
    user, created = get_user_model().objects.get_or_create(username=username)
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    Membership.objects.get_or_create(project=project, user=user, defaults={"role": Membership.Role.ANNOTATOR})
    return user
