"""manage.py simulate_annotators PROJECT: synthetic careful, random and left-clicking annotators
judge the project's queue through the real services, so the quality dashboard has something to tell."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotation.models import Project
from annotation.services.simulating import annotators_simulate
from rankwise.errors import RankwiseError


class Command(BaseCommand):
    help = "Let synthetic annotators (careful, random, left-clicking) judge a project. See docs/quality.md."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("project", help="project slug")
        parser.add_argument("--careful", type=int, default=3)
        parser.add_argument("--random", type=int, default=1)
        parser.add_argument("--left", type=int, default=1)
        parser.add_argument("--seed", type=int, default=0)

    def handle(self, *args: object, **options: object) -> None:
        project = Project.objects.filter(slug=options["project"]).first()
        if project is None:
            raise CommandError(f"No project {options['project']!r}.")
        behaviours = {b: options[b] for b in ("careful", "random", "left")}
        if any(n < 0 for n in behaviours.values()):
            raise CommandError("Counts of annotators cannot be negative.")
        try:
            submitted = annotators_simulate(project=project, behaviours=behaviours, seed=options["seed"])
        except RankwiseError as exc:
            raise CommandError(exc.message) from exc
        for username, count in submitted.items():
            self.stdout.write(f"{username}: {count} judgments")
