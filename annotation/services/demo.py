"""The demo that Rankwise ships: three users and four projects built from annotation/demo/.

demo-loop is where the loop runs with the tiny local model (docs/rounds.md): round 0 is a slice of
the demo file, rounds 1 to 3 are held-out prompts without candidates, for generation and arenas.

Everything goes through the importer, so the demo exercises the same path as real data. Loading
is idempotent: users, projects and memberships are looked up before they are created, and the
importer turns a re-import of the same bytes into a no-op that returns the existing batch.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.db import transaction

from annotation.models import ImportBatch, Membership, Project
from annotation.services.importing import data_import

DEMO_DIR = Path(__file__).resolve().parent.parent / "demo"
DEMO_FILE = DEMO_DIR / "demo.jsonl"
LOOP_PROMPTS_FILE = DEMO_DIR / "loop_prompts.jsonl"
# Round 0 of demo-loop: few enough comparisons that the tiny model trains on them in seconds on a CPU.
LOOP_ROUND0_LINES = 12
GUIDELINES_FILE = DEMO_DIR / "guidelines.md"
CRITERIA = ["helpfulness", "harmlessness", "honesty"]


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    is_superuser: bool
    description: str


DEMO_LOGINS = (
    DemoLogin("admin", "rankwise-admin", True, "superuser, admin of every demo project"),
    DemoLogin("annotator1", "rankwise-annotator1", False, "annotator in demo-pairwise, -ranking and -loop"),
    DemoLogin("annotator2", "rankwise-annotator2", False, "annotator in demo-pairwise, -ranking and -loop"),
)

PAIRWISE, RANKING, LABELLED, LOOP = "demo-pairwise", "demo-ranking", "demo-labelled", "demo-loop"


@dataclass(frozen=True)
class DemoSummary:
    users_created: int
    projects_created: int
    batches: dict[str, ImportBatch]


def demo_lines(*, min_candidates: int = 2) -> list[dict]:
    """The native demo lines whose prompts have at least `min_candidates` candidates, best candidate first."""
    lines = [json.loads(line) for line in DEMO_FILE.read_text(encoding="utf-8").splitlines() if line]
    return [line for line in lines if len(line["candidates"]) >= min_candidates]


def demo_preference_rows() -> list[dict]:
    """TRL conversational preference rows: every pair of a prompt's candidates, the better one chosen.

    The demo file lists candidates best first, so for candidates i < j, i is chosen over j.
    """
    rows = []
    for line in demo_lines():
        prompt = line["prompt"]
        messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else prompt
        for better, worse in combinations(line["candidates"], 2):
            rows.append(
                {
                    "prompt": messages,
                    "chosen": [{"role": "assistant", "content": better["text"]}],
                    "rejected": [{"role": "assistant", "content": worse["text"]}],
                }
            )
    return rows


def demo_loop_lines() -> list[dict]:
    """demo-loop's file: the first demo lines as round 0, then its held-out prompts of rounds 1–3."""
    held_out = [
        json.loads(line) for line in LOOP_PROMPTS_FILE.read_text(encoding="utf-8").splitlines() if line
    ]
    return demo_lines()[:LOOP_ROUND0_LINES] + held_out


def _jsonl(rows: list[dict]) -> bytes:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode()


def _user_ensure(login: DemoLogin) -> tuple[AbstractUser, bool]:
    user, created = get_user_model().objects.get_or_create(
        username=login.username, defaults={"is_superuser": login.is_superuser, "is_staff": login.is_superuser}
    )
    if created:
        # Only a new user gets the demo password, so a changed password survives a re-run.
        user.set_password(login.password)
        user.save(update_fields=["password"])
    return user, created


def _projects_spec() -> list[tuple[str, str, dict, str, bytes, bool]]:
    """(slug, name, project fields, file name, file bytes, as_judgments) for each demo project."""
    return [
        (
            PAIRWISE,
            "Demo: pairwise",
            {
                "mode": Project.Mode.PAIRWISE,
                "candidates_per_comparison": 2,
                "overlap": 2,
                "asks_demonstrations": True,
            },
            "demo.jsonl",
            _jsonl(demo_lines()),
            False,
        ),
        (
            RANKING,
            "Demo: ranking",
            {"mode": Project.Mode.RANKING, "candidates_per_comparison": 3, "overlap": 1},
            "demo-ranking.jsonl",
            _jsonl(demo_lines(min_candidates=3)),
            False,
        ),
        (
            LABELLED,
            "Demo: pre-labelled preferences",
            {"mode": Project.Mode.PAIRWISE, "candidates_per_comparison": 2, "overlap": 1},
            "demo-preferences.jsonl",
            _jsonl(demo_preference_rows()),
            True,
        ),
        (
            LOOP,
            "Demo: the loop (rounds and arenas with the tiny model)",
            {"mode": Project.Mode.PAIRWISE, "candidates_per_comparison": 2, "overlap": 1},
            "demo-loop.jsonl",
            _jsonl(demo_loop_lines()),
            False,
        ),
    ]


@transaction.atomic
def demo_load() -> DemoSummary:
    """Create what is missing of the demo users, projects, memberships and imported data.

    Running it again adds nothing. Raises the importer's ValidationFailed if the shipped file is
    broken, and then nothing is written.
    """
    users = {}
    users_created = 0
    for login in DEMO_LOGINS:
        users[login.username], created = _user_ensure(login)
        users_created += created
    admin, annotators = users["admin"], [users["annotator1"], users["annotator2"]]
    common = {
        "guidelines": GUIDELINES_FILE.read_text(encoding="utf-8"),
        "rating_criteria": CRITERIA,
        "hides_model_names": True,
        "created_by": admin,
    }
    projects_created = 0
    batches = {}
    for slug, name, fields, file_name, data, as_judgments in _projects_spec():
        project, created = Project.objects.get_or_create(
            slug=slug, defaults={"name": name, **common, **fields}
        )
        projects_created += created
        roles = {admin: Membership.Role.ADMIN}
        if slug != LABELLED:
            roles.update({annotator: Membership.Role.ANNOTATOR for annotator in annotators})
        for user, role in roles.items():
            Membership.objects.get_or_create(project=project, user=user, defaults={"role": role})
        batches[slug] = data_import(
            project=project,
            file=io.BytesIO(data),
            file_name=file_name,
            as_judgments=as_judgments,
            created_by=admin,
        )
    return DemoSummary(users_created=users_created, projects_created=projects_created, batches=batches)
