"""judgment_submit and judgment_edit, given answers as the doors parse them (answer_parse): validation,
lease checks, idempotent tokens, edit window."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from annotation.models import Assignment, Demonstration, Judgment, Project
from annotation.services.assigning import assignment_skip, comparison_lease
from annotation.services.judging import Answer, answer_parse, judgment_edit, judgment_submit
from rankwise.errors import Conflict, NotAllowed, NotFound, ValidationFailed
from tests.factories import MembershipFactory, ProjectFactory, make_answer, make_comparison

pytestmark = pytest.mark.django_db


@pytest.fixture
def rated(project: Project) -> Project:
    project.rating_criteria = ["helpfulness", "honesty"]
    project.rating_scale_max = 7
    project.asks_demonstrations = True
    project.save()
    return project


def _lease(project: Project, user) -> Assignment:
    make_comparison(project=project)
    return comparison_lease(project=project, annotator=user)


def _submit(
    project: Project, user, lease: Assignment, token: str = "token-0001", time_spent_ms: int = 0, **answer
) -> Judgment:
    """Parses the answer (the lease's first two candidates in slot order unless given), then submits it."""
    a, b = lease.presented_order[:2]
    answer.setdefault("ordering", [[a], [b]])
    return judgment_submit(
        project=project,
        annotator=user,
        assignment_id=lease.pk,
        submission_token=token,
        answer=make_answer(project=project, **answer),
        time_spent_ms=time_spent_ms,
    )


def test_submit_records_the_answer_and_the_order_shown(rated: Project, bob) -> None:
    lease = _lease(rated, bob)
    a, b = lease.presented_order
    judgment = _submit(
        rated,
        bob,
        lease,
        ordering=[[b], [a]],
        strength="clearly",
        ratings={str(a): {"helpfulness": 3}},
        rationale=" B cites its source ",
        flags=["unsure"],
        time_spent_ms=4200,
    )
    assert judgment.ordering == [[b], [a]]
    assert judgment.strength == "clearly"
    assert judgment.ratings == {str(a): {"helpfulness": 3}}
    assert judgment.rationale == "B cites its source"
    assert judgment.flags == ["unsure"]
    assert judgment.time_spent_ms == 4200
    assert judgment.presented_order == lease.presented_order
    assert judgment.annotator == bob and judgment.assignment == lease
    lease.refresh_from_db()
    assert lease.status == Assignment.Status.SUBMITTED and lease.finished_at is not None
    lease.comparison.refresh_from_db()
    assert lease.comparison.judgment_count == 1


def test_same_token_records_one_judgment(project: Project, bob) -> None:
    lease = _lease(project, bob)
    first = _submit(project, bob, lease, token="double-click")
    again = _submit(project, bob, lease, token="double-click")
    assert again.pk == first.pk
    assert Judgment.objects.count() == 1
    lease.comparison.refresh_from_db()
    assert lease.comparison.judgment_count == 1


def test_a_token_used_on_one_lease_is_refused_on_another_of_any_project(project: Project, bob) -> None:
    other = ProjectFactory()
    MembershipFactory(project=other, user=bob)
    _submit(project, bob, _lease(project, bob), token="one-token")
    for elsewhere in (_lease(other, bob), _lease(project, bob)):
        with pytest.raises(Conflict, match="already used"):
            _submit(elsewhere.comparison.project, bob, elsewhere, token="one-token")
        elsewhere.refresh_from_db()
        assert elsewhere.status == Assignment.Status.ACTIVE, "the new lease is untouched"
    assert Judgment.objects.count() == 1


def test_a_second_token_on_an_answered_lease_is_refused(project: Project, bob) -> None:
    lease = _lease(project, bob)
    _submit(project, bob, lease, token="first-token")
    with pytest.raises(Conflict, match="already submitted"):
        _submit(project, bob, lease, token="second-token")


def test_token_of_someone_else_is_refused(project: Project, bob, charlie) -> None:
    project.overlap = 2
    project.save()
    lease = _lease(project, bob)
    _submit(project, bob, lease, token="shared-token")
    theirs = comparison_lease(project=project, annotator=charlie)
    with pytest.raises(Conflict):
        _submit(project, charlie, theirs, token="shared-token")


def test_expired_lease_is_refused_with_a_clear_message(project: Project, bob) -> None:
    lease = _lease(project, bob)
    Assignment.objects.filter(pk=lease.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(Conflict, match="ran out"):
        _submit(project, bob, lease)
    assert not Judgment.objects.exists()


def test_skipped_lease_is_refused(project: Project, bob) -> None:
    lease = _lease(project, bob)
    assignment_skip(project=project, annotator=bob, assignment_id=lease.pk, reason="off topic")
    with pytest.raises(Conflict):
        _submit(project, bob, lease)


def test_foreign_and_other_project_leases_are_refused(project: Project, bob, charlie, mallory) -> None:
    lease = _lease(project, bob)
    with pytest.raises(NotAllowed):
        _submit(project, charlie, lease)
    other = Project.objects.get(slug="project-b")
    with pytest.raises(NotFound):
        _submit(other, mallory, lease)
    assert not Judgment.objects.exists()


@pytest.mark.parametrize(
    ("answer", "field"),
    [
        ({"ordering": []}, "ordering"),
        ({"ordering": [[999998], [999999]]}, "ordering"),
        ({"ordering": "A"}, "ordering"),
        ({"strength": "enormously"}, "strength"),
        ({"flags": ["lovely"]}, "flags"),
        ({"ratings": {"999999": {"helpfulness": 3}}}, "ratings"),
        ({"time_spent_ms": -5}, "time_spent_ms"),
        ({"time_spent_ms": "soon"}, "time_spent_ms"),
    ],
)
def test_invalid_answers_are_refused(rated: Project, bob, answer: dict, field: str) -> None:
    lease = _lease(rated, bob)
    with pytest.raises(ValidationFailed) as caught:
        _submit(rated, bob, lease, **answer)
    assert field in {d["field"] for d in caught.value.details}
    assert not Judgment.objects.exists()


def test_answers_are_parsed_into_canonical_form(rated: Project) -> None:
    raw = {
        "ordering": [[7], [3, 5]],
        "ratings": {3: {"honesty": 2}},
        "rationale": " B cites its source ",
        "flags": ["unsure", "unsafe", "unsure"],
        "demonstration_text": " Better. ",
        "based_on": 3,
    }
    assert answer_parse(raw, project=rated) == Answer(
        ordering=((7,), (3, 5)),
        ratings={"3": {"honesty": 2}},
        rationale="B cites its source",
        flags=("unsafe", "unsure"),
        demonstration_text="Better.",
        based_on=3,
    )
    # A base counts only with a demonstration.
    assert answer_parse({"ordering": [[7], [3]], "based_on": 3}, project=rated).based_on is None


def test_ratings_must_be_on_project_criteria_within_the_scale(rated: Project, bob) -> None:
    lease = _lease(rated, bob)
    a = lease.presented_order[0]
    for bad in ({"harmlessness": 3}, {"helpfulness": 0}, {"helpfulness": 8}, {"helpfulness": 2.5}):
        with pytest.raises(ValidationFailed):
            _submit(rated, bob, lease, ratings={str(a): bad})
    assert _submit(rated, bob, lease, ratings={str(a): {"helpfulness": 7, "honesty": 1}}).ratings


def test_strength_only_for_a_preferred_pair(project: Project, bob) -> None:
    lease = _lease(project, bob)
    a, b = lease.presented_order
    with pytest.raises(ValidationFailed, match="only when"):
        _submit(project, bob, lease, ordering=[[a, b]], strength="slightly")
    tie = _submit(project, bob, lease, ordering=[[a, b]], flags=["both_bad"])
    assert tie.is_tie and tie.flags == ["both_bad"]


def test_ranking_with_ties_and_no_strength(project: Project, bob) -> None:
    project.mode, project.candidates_per_comparison = "ranking", 4
    project.save()
    make_comparison(project=project, candidates=4)
    lease = comparison_lease(project=project, annotator=bob)
    a, b, c, d = lease.presented_order
    with pytest.raises(ValidationFailed):
        _submit(project, bob, lease, ordering=[[a], [b], [c, d]], strength="much")
    with pytest.raises(ValidationFailed):
        _submit(project, bob, lease, ordering=[[a], [b], [c]])
    judgment = _submit(project, bob, lease, ordering=[[c], [a, d], [b]])
    assert judgment.ordering == [[c], [a, d], [b]]


def test_demonstration_is_saved_when_the_project_asks(rated: Project, bob) -> None:
    lease = _lease(rated, bob)
    best = lease.presented_order[1]
    _submit(rated, bob, lease, demonstration_text="A better answer.", based_on=best)
    demo = Demonstration.objects.get()
    assert (demo.text, demo.based_on_id, demo.annotator, demo.comparison) == (
        "A better answer.",
        best,
        bob,
        lease.comparison,
    )
    assert demo.prompt == lease.comparison.prompt


def test_demonstration_refused_when_not_asked_or_not_from_the_item(project: Project, rated, bob) -> None:
    lease = _lease(project, bob)
    rated.asks_demonstrations = False
    rated.save()
    with pytest.raises(ValidationFailed):
        _submit(project, bob, lease, demonstration_text="Unasked.")
    rated.asks_demonstrations = True
    rated.save()
    with pytest.raises(ValidationFailed):
        _submit(project, bob, lease, demonstration_text="From elsewhere.", based_on=123456789)


def test_edit_within_the_window(rated: Project, bob) -> None:
    lease = _lease(rated, bob)
    a, b = lease.presented_order
    judgment = _submit(rated, bob, lease, demonstration_text="First try.", based_on=a)
    edited = judgment_edit(
        project=rated,
        annotator=bob,
        judgment_id=judgment.pk,
        answer=make_answer(
            project=rated,
            ordering=[[b], [a]],
            strength="much",
            ratings={str(b): {"honesty": 6}},
            rationale="Changed my mind",
            flags=["unsafe"],
            demonstration_text="Second try.",
            based_on=b,
        ),
    )
    edited.refresh_from_db()
    assert (edited.ordering, edited.strength, edited.rationale, edited.flags) == (
        [[b], [a]],
        "much",
        "Changed my mind",
        ["unsafe"],
    )
    assert edited.ratings == {str(b): {"honesty": 6}}
    assert list(Demonstration.objects.values_list("text", "based_on_id")) == [("Second try.", b)]
    judgment_edit(
        project=rated,
        annotator=bob,
        judgment_id=judgment.pk,
        answer=make_answer(project=rated, ordering=[[a, b]], demonstration_text=""),
    )
    assert not Demonstration.objects.exists()
    assert Judgment.objects.count() == 1


def test_edit_after_the_window_or_of_others_is_refused(project: Project, bob, charlie) -> None:
    lease = _lease(project, bob)
    judgment = _submit(project, bob, lease)
    ordering = judgment.ordering[::-1]
    answer = make_answer(project=project, ordering=ordering)
    with pytest.raises(NotAllowed):
        judgment_edit(project=project, annotator=charlie, judgment_id=judgment.pk, answer=answer)
    Judgment.objects.filter(pk=judgment.pk).update(
        created_at=timezone.now() - timedelta(minutes=project.edit_window_minutes, seconds=1)
    )
    with pytest.raises(Conflict, match="10 minutes"):
        judgment_edit(project=project, annotator=bob, judgment_id=judgment.pk, answer=answer)
    judgment.refresh_from_db()
    assert judgment.ordering != ordering
