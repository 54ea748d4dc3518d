"""Every curl and Python example of docs/api.md runs against a live server and does what it says."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from rest_framework.authtoken.models import Token

from annotation.models import AuditEvent, Judgment, Membership, Project, Review
from tests.factories import ModelVersionFactory, UserFactory, make_comparison
from training.models import CandidateScore

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(), flags=re.S)


@pytest.mark.integration
def test_api_doc_examples_run_against_a_live_server(
    transactional_db: None, live_server, alice, bob, charlie
) -> None:
    project = Project.objects.get(slug="project-a")
    comparison = make_comparison(project=project)
    first, second = (slot.candidate_id for slot in comparison.slots.all())
    Judgment.objects.create(
        comparison=comparison, annotator=bob, ordering=[[first], [second]], submission_token="t"
    )
    # Charlie agrees with bob, erin does not: the comparison needs review, its consensus is bob's.
    Judgment.objects.create(
        comparison=comparison, annotator=charlie, ordering=[[first], [second]], submission_token="u"
    )
    Judgment.objects.create(
        comparison=comparison,
        annotator=UserFactory(username="erin"),
        ordering=[[second], [first]],
        submission_token="v",
    )
    version = ModelVersionFactory(name="rm", path="/rm", method="reward", base="m", is_reward_model=True)
    for candidate_id, score in ((first, -1.0), (second, 2.0)):  # bob chose the first: a disagreement
        CandidateScore.objects.create(candidate_id=candidate_id, model_version=version, score=score)
    env = {
        **os.environ,
        "REWARD_VERSION": str(version.pk),
        "RANKWISE_URL": live_server.url,
        "RANKWISE_TOKEN": Token.objects.create(user=alice).key,
        "PROJECT": project.slug,
    }
    curl, python = _blocks("bash"), _blocks("python")
    assert len(curl) == 6 and len(python) == 1

    outputs = [
        subprocess.run(
            ["bash", "-euo", "pipefail", "-c", block], env=env, capture_output=True, text=True, timeout=60
        )
        for block in curl
    ]
    assert [o.returncode for o in outputs] == [0, 0, 0, 0, 0, 0], [o.stderr for o in outputs]
    assert json.loads(outputs[0].stdout)["results"][0]["slug"] == "project-a"
    assert json.loads(outputs[1].stdout)["count"] == 1
    settings, end = json.JSONDecoder().raw_decode(outputs[2].stdout)  # two bodies, back to back
    assert settings["review_min_agreement"] == 0.7
    queue = json.loads(outputs[2].stdout[end:])
    assert [item["id"] for item in queue["results"]] == [comparison.pk]
    imported, end = json.JSONDecoder().raw_decode(outputs[3].stdout)
    audit = json.loads(outputs[3].stdout[end:])
    assert imported["comparisons_created"] == 1
    assert audit["results"][0]["target"] == "rankwise-hello.jsonl"
    settings, end = json.JSONDecoder().raw_decode(outputs[4].stdout)
    report = json.loads(outputs[4].stdout[end:])
    assert (settings["queue_order"], settings["queue_model_version"]) == ("uncertainty", version.pk)
    assert (report["compared"], report["disagreements"]) == (1, 1)
    assert report["comparisons"][0]["margin_vs_humans"] == -3.0
    rounds, end = json.JSONDecoder().raw_decode(outputs[5].stdout)
    quality = json.loads(outputs[5].stdout[end:])
    assert rounds["current"] == 0 and rounds["rounds"][0]["comparisons"] == 2
    assert (quality["round"], quality["progress"]["comparisons"], quality["progress"]["judgments"]) == (
        0,
        2,
        3,
    )

    ran = subprocess.run(
        [sys.executable, "-c", python[0]], env=env, capture_output=True, text=True, timeout=120
    )
    assert ran.returncode == 0, ran.stderr
    assert "2 comparisons" in ran.stdout
    membership = Membership.objects.get(project=project, user=bob)
    assert (membership.role, membership.attributes) == ("reviewer", {"language": "de"})
    assert (Review.objects.get().decision, Review.objects.get().ordering) == ("accept", [[first], [second]])
    assert json.loads(Path("/tmp/rankwise-preferences.jsonl").read_text().splitlines()[0])["chosen"]
    assert set(AuditEvent.objects.values_list("action", flat=True)) == {
        "project_update",
        "import",
        "role_change",
        "member_attributes",
        "review",
        "export",
    }
