"""Many annotators hammering the annotate API over HTTP for a bounded time (PostgreSQL, live server).

Each annotator pulls and submits with token auth, sometimes skips, sometimes repeats a submission
as a client does when a response is lost, and sometimes asks for the next item twice at once (two
tabs). Afterwards: no 5xx, no comparison over its overlap, nobody on a comparison twice, at most
one active lease per annotator, every acknowledged judgment stored once under the id the client
got, and no stored judgment the clients were not told about.
`bench/annotation_load.py --levels 50 --seconds 180 --baseline-seconds 10 --replay-every 5` is the long
variant (its last run is in bench/README.md).
"""

from __future__ import annotations

import http.client
import json
import random
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.db.models import Count
from rest_framework.authtoken.models import Token

from annotation.models import Assignment, Comparison, Judgment, JudgmentTally, Project
from tests.factories import MembershipFactory, ProjectFactory, UserFactory, make_comparison

pytestmark = pytest.mark.integration

ANNOTATORS = 16
COMPARISONS = 150
OVERLAP = 2
SECONDS = 8


@dataclass
class Annotator:
    token: str
    host: str
    port: int
    seed: int
    statuses: Counter = field(default_factory=Counter)
    acknowledged: dict[str, int] = field(default_factory=dict)  # submission token -> judgment id
    problems: list[str] = field(default_factory=list)

    def post(self, path: str, body: dict) -> tuple[int, dict]:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            headers = {"Authorization": f"Token {self.token}", "Content-Type": "application/json"}
            connection.request("POST", path, json.dumps(body), headers)
            response = connection.getresponse()
            status, data = response.status, response.read()
        finally:
            connection.close()
        self.statuses[status] += 1
        if status >= 500:
            self.problems.append(f"{path}: {status} {data[:300]!r}")
        return status, json.loads(data)

    def next_twice(self) -> list[tuple[int, dict]]:
        """Two concurrent "next" requests, as from two tabs: they must not name two leases."""
        answers: list[tuple[int, dict]] = []
        tab = threading.Thread(target=lambda: answers.append(self.post(NEXT, {})))
        tab.start()
        answers.append(self.post(NEXT, {}))
        tab.join()
        return answers

    def run(self, deadline: float) -> None:
        rng = random.Random(self.seed)
        try:
            while time.monotonic() < deadline:
                answers = self.next_twice() if rng.random() < 0.1 else [self.post(NEXT, {})]
                if any(status != 200 for status, _ in answers):
                    self.problems.append(f"next: {answers}")
                    return
                items = [data["item"] for _, data in answers]
                # The two run one after the other (the annotator lock). The second gets the lease
                # the first took; only an empty answer may come first, when another annotator's
                # skip put an item back in between (near the end of the queue).
                if len({item["assignment"] for item in items if item}) > 1:
                    self.problems.append(f"two tabs got two leases: {items}")
                item = next((item for item in items if item), None)
                if item is None:
                    return
                if rng.random() < 0.1:
                    status, _ = self.post(SKIP, {"assignment": item["assignment"], "reason": "not sure"})
                    if status != 200:
                        self.problems.append(f"skip: {status}")
                    continue
                first, second = (c["id"] for c in item["candidates"])
                token = secrets.token_hex(12)
                answer = {"assignment": item["assignment"], "submission_token": token,
                          "ordering": [[first], [second]]}  # fmt: skip
                status, data = self.post(SUBMIT, answer)
                if status != 201:
                    self.problems.append(f"submit: {status} {data}")
                    continue
                self.acknowledged[token] = data["judgment"]
                if rng.random() < 0.15:  # the response was "lost": the client sends it again
                    status, again = self.post(SUBMIT, answer)
                    if status != 201 or again["judgment"] != data["judgment"]:
                        self.problems.append(f"replay: {status} {again} after {data}")
        except Exception as exc:  # noqa: BLE001 - reported by the test
            self.problems.append(f"{type(exc).__name__}: {exc}")


NEXT, SUBMIT, SKIP = (
    "/api/projects/hammer/next/",
    "/api/projects/hammer/submit/",
    "/api/projects/hammer/skip/",
)


def test_annotators_hammering_the_api_keep_every_rule(live_server) -> None:
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        pytest.skip("needs PostgreSQL (DATABASE_URL)")
    project = ProjectFactory(slug="hammer", overlap=OVERLAP)
    for _ in range(COMPARISONS):
        make_comparison(project=project)
    url = urlsplit(live_server.url)
    annotators = []
    for i in range(ANNOTATORS):
        user = UserFactory(password=None)
        MembershipFactory(project=project, user=user)
        annotators.append(Annotator(Token.objects.create(user=user).key, url.hostname, url.port, seed=i))
    deadline = time.monotonic() + SECONDS
    threads = [threading.Thread(target=a.run, args=(deadline,)) for a in annotators]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=SECONDS + 60)
    assert not any(thread.is_alive() for thread in threads)

    problems = [p for a in annotators for p in a.problems]
    assert not problems, problems
    acknowledged = {token: judgment for a in annotators for token, judgment in a.acknowledged.items()}
    assert acknowledged, "no submission went through"
    stored = dict(Judgment.objects.filter(comparison__project=project).values_list("submission_token", "pk"))
    assert stored == acknowledged, "a judgment was lost, doubled, or stored without the client knowing"
    _assert_rules_hold(project)
    statuses = sum((a.statuses for a in annotators), Counter())
    print(f"\n{ANNOTATORS} annotators, {SECONDS} s: {len(acknowledged)} judgments; answers {dict(statuses)}")


def _assert_rules_hold(project: Project) -> None:
    per_comparison = Counter(
        Judgment.objects.filter(comparison__project=project).values_list("comparison_id", flat=True)
    )
    assert max(per_comparison.values()) <= OVERLAP
    pairs = list(
        Judgment.objects.filter(comparison__project=project).values_list("comparison_id", "annotator_id")
    )
    assert len(pairs) == len(set(pairs)), "an annotator judged a comparison twice"
    for comparison in Comparison.objects.filter(project=project):
        assert comparison.judgment_count == per_comparison.get(comparison.pk, 0)
    tallies = Counter()
    for annotator_id, judgments in JudgmentTally.objects.filter(project=project).values_list(
        "annotator_id", "judgments"
    ):
        tallies[annotator_id] += judgments
    assert tallies == Counter(annotator for _, annotator in pairs), "a tally disagrees with the judgments"
    active = Assignment.objects.filter(comparison__project=project, status=Assignment.Status.ACTIVE)
    held = active.values("annotator").annotate(n=Count("pk")).filter(n__gt=1)
    assert not held.exists(), "an annotator holds two leases at once"
    taken = Counter(active.values_list("comparison_id", flat=True)) + per_comparison
    assert max(taken.values()) <= OVERLAP, "a comparison was leased past its overlap"
    skipped = Assignment.objects.filter(comparison__project=project, status=Assignment.Status.SKIPPED)
    assert skipped.exists() and not Judgment.objects.filter(assignment__in=skipped).exists()
