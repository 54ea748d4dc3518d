"""manage.py create_project SLUG: a new project, for scripts and first setup."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotation.models import Project
from annotation.services.projects import project_create
from rankwise.errors import RankwiseError


class Command(BaseCommand):
    help = "Create a project. Exit code 1 with the reasons on stderr if a setting is not valid."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--name", help="default: the slug")
        parser.add_argument("--mode", choices=Project.Mode.values, default=Project.Mode.PAIRWISE)
        parser.add_argument(
            "--candidates",
            type=int,
            dest="candidates_per_comparison",
            help="candidates per comparison: 2 for pairwise (default), 3 or 4 for ranking (default 3)",
        )
        parser.add_argument("--pairing", choices=Project.Pairing.values, default=Project.Pairing.ALL_PAIRS)
        parser.add_argument("--overlap", type=int, default=1, help="annotators per comparison")
        parser.add_argument("--criteria", default="", help="rating criteria, comma-separated")
        parser.add_argument("--guidelines", type=Path, help="a markdown file of annotator guidelines")
        parser.add_argument("--demonstrations", action="store_true", help="ask annotators for demonstrations")
        parser.add_argument("--show-model-names", action="store_true", help="show annotators the model names")
        parser.add_argument("--lease-minutes", type=int, default=30)
        parser.add_argument("--gold-rate", type=float, default=0.0)
        parser.add_argument(
            "--admin", action="append", default=[], help="username of a project admin (repeatable)"
        )

    def handle(self, *args: Any, slug: str, **options: Any) -> None:
        users = get_user_model().objects.filter(username__in=options["admin"])
        missing = set(options["admin"]) - {u.username for u in users}
        if missing:
            raise CommandError(f"No user {', '.join(sorted(missing))}.")
        settings: dict[str, Any] = {
            "mode": options["mode"],
            "pairing": options["pairing"],
            "overlap": options["overlap"],
            "rating_criteria": [c.strip() for c in options["criteria"].split(",") if c.strip()],
            "asks_demonstrations": options["demonstrations"],
            "hides_model_names": not options["show_model_names"],
            "lease_minutes": options["lease_minutes"],
            "gold_rate": options["gold_rate"],
        }
        if options["candidates_per_comparison"] is not None:
            settings["candidates_per_comparison"] = options["candidates_per_comparison"]
        if options["guidelines"] is not None:
            try:
                settings["guidelines"] = options["guidelines"].read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise CommandError(f"Cannot read the guidelines: {exc}") from None
        try:
            project = project_create(name=options["name"] or slug, slug=slug, admins=list(users), **settings)
        except RankwiseError as exc:
            for d in exc.details:
                self.stderr.write(f"{d['field'] or 'project'}: {d['reason']}")
            raise CommandError(exc.message) from None
        self.stdout.write(f"Created project {project.slug} ({project.get_mode_display()}).")
