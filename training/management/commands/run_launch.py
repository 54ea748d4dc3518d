"""manage.py run_launch PROJECT --method M --snapshot ID [--base-model X | --base-version ID]: queue a run."""

from __future__ import annotations

import json
import time

from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotation.models import Project
from rankwise.errors import RankwiseError
from training.models import DatasetSnapshot, Method, ModelVersion, Run
from training.services.runs import RunLaunchSpec, run_command, run_launch


def _value(text: str) -> object:
    """A hyperparameter value: JSON when it parses (numbers, booleans), else the string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


class Command(BaseCommand):
    help = (
        "Queue a training run on a snapshot for a gpu worker; --wait follows it to the end. See docs/runs.md."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("project", help="project slug")
        parser.add_argument("--method", required=True, choices=Method.values)
        parser.add_argument("--snapshot", required=True, type=int, help="snapshot id")
        parser.add_argument("--base-model", default="", help="HF id or local path")
        parser.add_argument("--base-version", type=int, help="model version id to continue from")
        parser.add_argument("--reward-version", type=int, help="reward model version id (ppo, rloo)")
        parser.add_argument(
            "--hp", action="append", default=[], metavar="NAME=VALUE", help="a hyperparameter"
        )
        parser.add_argument("--device", default="auto", help="auto | cpu | cuda")
        parser.add_argument("--name", default="")
        parser.add_argument(
            "--wait", action="store_true", help="wait for the run to finish; exit 1 unless it succeeds"
        )

    def handle(self, *args: object, **options: object) -> None:
        project = Project.objects.filter(slug=options["project"]).first()
        snapshot = DatasetSnapshot.objects.filter(pk=options["snapshot"], projects=project).first()
        if project is None or snapshot is None:
            raise CommandError("No such project, or the snapshot does not include it.")
        versions = {
            field: ModelVersion.objects.filter(pk=options[field]).first() if options[field] else None
            for field in ("base_version", "reward_version")
        }
        if any(options[field] and version is None for field, version in versions.items()):
            raise CommandError("No such model version.")
        hyperparameters = {}
        for item in options["hp"]:
            name, sep, value = item.partition("=")
            if not sep:
                raise CommandError(f"--hp {item!r}: expected NAME=VALUE")
            hyperparameters[name] = _value(value)
        try:
            run = run_launch(
                project=project,
                spec=RunLaunchSpec(
                    method=options["method"],
                    snapshot=snapshot,
                    name=options["name"],
                    base_model=options["base_model"],
                    base_version=versions["base_version"],
                    reward_version=versions["reward_version"],
                    hyperparameters=hyperparameters,
                    device=options["device"],
                ),
            )
        except RankwiseError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"run {run.pk} queued: {run_command(run=run)}")
        if not options["wait"]:
            return
        while not run.is_finished:
            time.sleep(1)
            run.refresh_from_db()
        self.stdout.write(f"run {run.pk} {run.status} at step {run.step}/{run.total_steps}")
        if run.status != Run.Status.SUCCEEDED:
            raise CommandError(run.error or run.status)
