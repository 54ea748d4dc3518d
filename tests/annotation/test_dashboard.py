"""The quality dashboard page and its JSON twin: wiring, permissions and a fixed number of queries."""

from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from annotation.models import Assignment, Comparison, Judgment, Membership, Project
from annotation.selectors.quality import quality_inputs_get
from tests.factories import MembershipFactory, UserFactory, make_comparison
from training.models import DatasetSnapshot

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_passwords(settings) -> None:
    """The factories hash a password per user; the default hasher would dominate these tests."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _judge(
    comparison: Comparison, user: AbstractBaseUser, tiers: list[list[int]], shown: list[int]
) -> Judgment:
    return Judgment.objects.create(
        comparison=comparison,
        annotator=user,
        ordering=tiers,
        presented_order=shown,
        time_spent_ms=5000,
        submission_token=uuid.uuid4().hex,
    )


def _slots(comparison: Comparison) -> list[int]:
    return list(comparison.slots.values_list("candidate_id", flat=True))


@pytest.fixture
def judged(project: Project, bob: AbstractBaseUser, charlie: AbstractBaseUser) -> list[Comparison]:
    """12 pairwise comparisons, all gold (slot 0 is better, and model-0 wrote it), overlap 2.

    Charlie and erin are careful and always right; bob always picks the candidate shown first,
    which is the better one only half the time. Bob also skipped one assignment.
    """
    erin = UserFactory(username="erin")
    MembershipFactory(project=project, user=erin)
    project.overlap = 2
    project.save()
    comparisons = []
    for i in range(12):
        comparison = make_comparison(project=project)
        good, bad = _slots(comparison)
        comparison.gold_ordering = [[good], [bad]]
        comparison.save()
        shown = [good, bad] if i % 2 else [bad, good]
        _judge(comparison, charlie, [[good], [bad]], shown)
        _judge(comparison, erin, [[good], [bad]], shown[::-1])
        _judge(comparison, bob, [[shown[0]], [shown[1]]], shown)
        comparisons.append(comparison)
    extra = make_comparison(project=project)
    now = timezone.now()
    Assignment.objects.create(
        comparison=extra, annotator=bob, status=Assignment.Status.SKIPPED, leased_at=now, expires_at=now
    )
    Judgment.objects.filter(comparison__in=comparisons[:6]).update(created_at=now - dt.timedelta(days=2))
    return comparisons


def _client(user: AbstractBaseUser | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def test_api_reports_progress_agreement_flags_and_leaderboard(
    alice: AbstractBaseUser, bob: AbstractBaseUser, charlie: AbstractBaseUser, judged: list[Comparison]
) -> None:
    response = _client(alice).get(reverse("api:project-quality", args=["project-a"]))
    assert response.status_code == 200
    data = response.json()
    assert data["progress"] == {
        "comparisons": 13,
        "overlap": 2,
        "target": 26,
        "judgments": 36,
        "counted": 24,
        "complete_comparisons": 12,
        "fraction": 24 / 26,
    }
    assert [d["judgments"] for d in data["timeline"]] == [18, 0, 18]
    # Charlie and erin always agree; bob agrees with them on the 6 comparisons where the better
    # candidate was shown to him first: (12 + 6 + 6) of 36 annotator pairs.
    assert data["agreement"]["pairwise_rate"] == pytest.approx(24 / 36)
    assert data["agreement"]["pairs_with_overlap"] == 12
    annotators = {a["username"]: a for a in data["annotators"]}
    assert annotators["charlie"]["gold_accuracy"] == 1.0 and annotators["charlie"]["flags"] == []
    assert annotators["charlie"]["consensus_agreement"] == 1.0
    assert annotators["bob"]["consensus_agreement"] == 0.5
    assert annotators["bob"]["gold_accuracy"] == 0.5
    assert annotators["bob"]["position_bias"]["rate"] == 1.0
    assert annotators["bob"]["position_bias"]["p_value"] == pytest.approx(2 / 4096)
    assert annotators["bob"]["skips"] == 1
    assert set(annotators["bob"]["flags"]) == {
        "low agreement with consensus",
        "low gold accuracy",
        "position bias",
    }
    assert data["flagged"] == [bob.pk]
    # Bob disagreed with both others on the 6 comparisons where the worse candidate was shown first.
    assert [row["agreement"] for row in data["low_agreement"]] == [pytest.approx(1 / 3)] * 6
    assert {row["comparison_id"] for row in data["low_agreement"]} == {c.pk for c in judged[::2]}
    assert all(row["prompt"].startswith("Question number") for row in data["low_agreement"])
    board = data["leaderboard"]
    assert [m["model"] for m in board] == ["model-0", "model-1"]
    assert (board[0]["wins"], board[0]["losses"], board[0]["battles"]) == (30, 6, 36)
    assert board[0]["ci_low"] <= board[0]["score"] <= board[0]["ci_high"]


def test_api_takes_bootstrap_rounds_and_seed_and_names_a_bad_one(
    alice: AbstractBaseUser, judged: list[Comparison]
) -> None:
    client, url = _client(alice), reverse("api:project-quality", args=["project-a"])
    first = client.get(url, {"rounds": 50, "seed": 7}).json()["leaderboard"]
    assert client.get(url, {"rounds": 50, "seed": 7}).json()["leaderboard"] == first
    assert client.get(url, {"rounds": 50, "seed": 8}).json()["leaderboard"] != first
    response = client.get(url, {"rounds": 5})
    assert response.status_code == 400
    assert response.json()["details"][0]["rounds"]


def test_ranking_project_expands_rankings_to_model_battles(
    alice: AbstractBaseUser, bob: AbstractBaseUser, charlie: AbstractBaseUser
) -> None:
    project = Project.objects.get(slug="project-a")
    project.mode, project.candidates_per_comparison = Project.Mode.RANKING, 3
    project.save()
    for _ in range(4):
        comparison = make_comparison(project=project, candidates=3)
        c0, c1, c2 = _slots(comparison)  # written by model-0, model-1, model-2
        _judge(comparison, bob, [[c2], [c1], [c0]], [c0, c1, c2])
        _judge(comparison, charlie, [[c2], [c0, c1]], [c2, c0, c1])
    data = _client(alice).get(reverse("api:project-quality", args=["project-a"])).json()
    board = {m["model"]: m for m in data["leaderboard"]}
    assert data["leaderboard"][0]["model"] == "model-2"
    # Each ranking of three gives three battles; charlie's tie gives model-0 and model-1 a tie each.
    assert sum(m["battles"] for m in board.values()) == 2 * 3 * 8
    assert (board["model-2"]["wins"], board["model-2"]["losses"]) == (16, 0)
    assert (board["model-1"]["wins"], board["model-1"]["ties"]) == (4, 4)
    # The two agree on model-2 over each other candidate and differ on model-1 against model-0.
    assert data["agreement"]["pairwise_rate"] == pytest.approx(2 / 3)
    assert data["agreement"]["alpha_ordinal"] is not None


def test_page_renders_the_figures_for_admins_and_reviewers(
    alice: AbstractBaseUser, dave: AbstractBaseUser, judged: list[Comparison]
) -> None:
    for user in (alice, dave):
        response = _client(user).get(reverse("project-dashboard", args=["project-a"]))
        assert response.status_code == 200
        html = response.content.decode()
        assert 'id="annotator-table"' in html and "position bias" in html
        assert "model-0" in html and 'id="quality-report"' in html
        assert "js/dashboard.js" in html
        assert 'id="low-agreement-table"' in html


@pytest.mark.parametrize("door", ["project-dashboard", "api:project-quality"])
def test_superusers_see_every_project(door: str, judged: list[Comparison]) -> None:
    root = UserFactory(username="root", is_superuser=True)
    assert _client(root).get(reverse(door, args=["project-a"])).status_code == 200


def test_admins_get_an_export_link_that_leaves_flagged_annotators_out(
    alice: AbstractBaseUser, bob: AbstractBaseUser, dave: AbstractBaseUser, judged: list[Comparison]
) -> None:
    url = reverse("project-dashboard", args=["project-a"])
    html = _client(alice).get(url).content.decode()
    link = f'href="{reverse("project-export", args=["project-a"])}?exclude_annotator={bob.pk}"'
    assert link in html and "Export without the 1 flagged annotator<" in html
    export_form = _client(alice).get(
        f"{reverse('project-export', args=['project-a'])}?exclude_annotator={bob.pk}"
    )
    assert f'<option value="{bob.pk}" selected>bob</option>' in export_form.content.decode()
    # Reviewers cannot export, so they are not offered the link.
    assert "export-without-flagged" not in _client(dave).get(url).content.decode()


def test_admins_snapshot_without_flagged_annotators_in_one_click(
    alice: AbstractBaseUser, bob: AbstractBaseUser, project: Project, judged: list[Comparison]
) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    page = client.get(reverse("project-dashboard", args=["project-a"]))
    form = re.search(
        r'<form method="post" action="([^"]+)"[^>]*id="snapshot-without-flagged">(.*?)</form>',
        page.content.decode(),
        re.S,
    )
    assert form is not None
    fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', form.group(2)))
    assert fields["exclude_annotator"] == str(bob.pk)
    response = client.post(form.group(1), fields)
    assert response.status_code == 302
    snapshot = DatasetSnapshot.objects.get()
    assert snapshot.filters == {"exclude_annotator": str(bob.pk)}
    assert snapshot.name.startswith("project-a without flagged annotators")
    assert list(snapshot.projects.all()) == [project]


def test_quality_index_lists_the_projects_a_user_reviews(
    alice: AbstractBaseUser, bob: AbstractBaseUser, dave: AbstractBaseUser, mallory: AbstractBaseUser
) -> None:
    dashboard = reverse("project-dashboard", args=["project-a"])
    for user in (alice, dave):
        html = _client(user).get(reverse("quality-index")).content.decode()
        assert dashboard in html
    for user in (bob, mallory):
        response = _client(user).get(reverse("quality-index"))
        assert response.status_code == 200 and dashboard not in response.content.decode()
        assert "project-b" not in response.content.decode()
    assert f'href="{reverse("quality-index")}"' in _client(bob).get(reverse("home")).content.decode()


def test_page_of_a_project_without_judgments(alice: AbstractBaseUser) -> None:
    response = _client(alice).get(reverse("project-dashboard", args=["project-a"]))
    assert response.status_code == 200
    assert "No judgments by annotators yet." in response.content.decode()


@pytest.mark.parametrize("door", ["page", "api"])
def test_annotators_and_outsiders_are_refused(
    door: str, bob: AbstractBaseUser, mallory: AbstractBaseUser, judged: list[Comparison]
) -> None:
    url = reverse("project-dashboard" if door == "page" else "api:project-quality", args=["project-a"])
    assert _client(bob).get(url).status_code == 403
    assert _client(mallory).get(url).status_code == 404
    missing = url.replace("project-a", "no-such-project")
    assert _client(bob).get(missing).status_code == 404
    anonymous = _client(None).get(url)
    assert anonymous.status_code == (302 if door == "page" else 403)
    # Mallory's own project is no backdoor either: she is only an annotator there.
    other = url.replace("project-a", "project-b")
    assert _client(mallory).get(other).status_code == 403


def test_selector_reads_each_table_once_however_many_judgments(
    project: Project, judged: list[Comparison], django_assert_num_queries
) -> None:
    # slots (+ gold orderings), judgments, skipped assignments, usernames, attributes, comparison count
    with django_assert_num_queries(6):
        small = quality_inputs_get(project=project)
    more_users = [UserFactory(username=f"extra{i}") for i in range(3)]
    for comparison in judged:
        for user in more_users:
            good, bad = _slots(comparison)
            _judge(comparison, user, [[good], [bad]], [good, bad])
    with django_assert_num_queries(6):
        large = quality_inputs_get(project=project)
    assert len(large.records) == len(small.records) + 36
    assert large.gold == small.gold and len(large.gold) == 12


def test_api_queries_do_not_grow_with_the_data(
    alice: AbstractBaseUser, project: Project, judged: list[Comparison]
) -> None:
    client = _client(alice)
    url = reverse("api:project-quality", args=["project-a"])
    client.get(url)
    with CaptureQueriesContext(connection) as before:
        client.get(url)
    for _ in range(5):
        comparison = make_comparison(project=project, candidates=2)
        good, bad = _slots(comparison)
        for user in project.members.all():
            _judge(comparison, user, [[good], [bad]], [good, bad])
    with CaptureQueriesContext(connection) as after:
        client.get(url)
    assert len(after.captured_queries) == len(before.captured_queries)


def test_figures_per_round_and_for_one_round_keep_the_query_bound(
    alice: AbstractBaseUser, project: Project, judged: list[Comparison], django_assert_num_queries
) -> None:
    # Half of the comparisons move to round 1, where bob (position-biased) is left out.
    Comparison.objects.filter(pk__in=[c.pk for c in judged[6:]]).update(round=1)
    Judgment.objects.filter(comparison__in=judged[6:], annotator__username="bob").delete()
    with django_assert_num_queries(6):
        inputs = quality_inputs_get(project=project, round=1)
    assert (
        len(inputs.records) == 12
        and inputs.comparisons == 6
        and set(inputs.comparison_rounds.values()) == {1}
    )

    data = _client(alice).get(reverse("api:project-quality", args=["project-a"])).json()
    rounds = {row["round"]: row for row in data["by_round"]}
    assert (rounds[0]["progress"]["comparisons"], rounds[0]["progress"]["judgments"]) == (7, 18)
    assert (rounds[1]["progress"]["comparisons"], rounds[1]["progress"]["judgments"]) == (6, 12)
    # Charlie and erin always agree; bob's coin flips pull round 0's agreement down.
    assert rounds[1]["agreement"]["pairwise_rate"] == 1.0 > rounds[0]["agreement"]["pairwise_rate"]

    one = _client(alice).get(reverse("api:project-quality", args=["project-a"]), {"round": 1}).json()
    assert (
        one["round"] == 1 and one["progress"]["judgments"] == 12 and one["agreement"]["pairwise_rate"] == 1.0
    )
    assert (
        _client(alice).get(reverse("api:project-quality", args=["project-a"]), {"round": "x"}).status_code
        == 400
    )
    page = _client(alice).get(reverse("project-dashboard", args=["project-a"]), {"round": 1})
    assert page.status_code == 200 and b"quality, round 1" in page.content
    assert (
        _client(alice).get(reverse("project-dashboard", args=["project-a"]), {"round": "x"}).status_code
        == 400
    )


def test_flags_and_the_export_link_follow_the_project_s_thresholds(
    alice: AbstractBaseUser, bob: AbstractBaseUser, project: Project, judged: list[Comparison]
) -> None:
    url = reverse("api:project-quality", args=["project-a"])
    assert _client(alice).get(url).json()["flagged"] == [bob.pk]
    # Bob agrees half the time, is right on half the gold and picks the first-shown one always.
    project.min_consensus_agreement, project.min_gold_accuracy, project.bias_p_value = 0.4, 0.4, 0.0
    project.save()
    data = _client(alice).get(url).json()
    assert data["flagged"] == [] and data["thresholds"]["min_consensus_agreement"] == 0.4
    html = _client(alice).get(reverse("project-dashboard", args=["project-a"])).content.decode()
    assert 'id="export-without-flagged"' not in html
    project.min_items = 13  # more than anyone's 12 judgments: nothing can be flagged
    project.min_consensus_agreement = project.min_gold_accuracy = 0.99
    project.save()
    assert _client(alice).get(url).json()["flagged"] == []


def test_figures_by_annotator_attribute_in_the_api_and_on_the_page(
    alice: AbstractBaseUser, bob: AbstractBaseUser, charlie: AbstractBaseUser, judged: list[Comparison]
) -> None:
    Membership.objects.filter(user=bob).update(attributes={"language": "en"})
    Membership.objects.filter(user=charlie).update(attributes={"language": "de", "expertise": "law"})
    data = _client(alice).get(reverse("api:project-quality", args=["project-a"]), {"rounds": 10}).json()
    assert sorted(data["groups"]) == ["expertise", "language"]
    de, en, unset = data["groups"]["language"]
    assert (de["value"], de["judgments"], de["consensus_agreement"]) == ("de", 12, 1.0)
    assert (en["value"], en["judgments"], en["consensus_agreement"]) == ("en", 12, 0.5)
    assert (unset["value"], unset["annotators"]) == (None, 1)  # erin has no attributes
    # Charlie always prefers model-0's answer; bob, picking the one shown first, half the time.
    assert {r["model"]: r["win_rate"] for r in de["leaderboard"]} == {"model-0": 1.0, "model-1": 0.0}
    assert {r["model"]: r["win_rate"] for r in en["leaderboard"]} == {"model-0": 0.5, "model-1": 0.5}
    html = _client(alice).get(reverse("project-dashboard", args=["project-a"])).content.decode()
    assert 'data-attribute="language"' in html and 'data-attribute="expertise"' in html
    assert '<tr data-value="en">' in html
