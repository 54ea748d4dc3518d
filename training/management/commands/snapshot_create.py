"""manage.py snapshot_create PROJECT [PROJECT ...] --name NAME: freeze projects' data into a snapshot."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotation.models import Project
from rankwise.errors import RankwiseError, storage_error
from training.services.snapshots import SNAPSHOT_FILTERS, SnapshotSpec, snapshot_create


class Command(BaseCommand):
    help = "Freeze projects' judgments into an immutable snapshot with a manifest. See docs/runs.md."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("projects", nargs="+", help="project slugs")
        parser.add_argument("--name", required=True)
        parser.add_argument("--seed", type=int, default=0, help="split seed")
        parser.add_argument("--eval-fraction", type=float, default=0.1)
        parser.add_argument(
            "--filter",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help=f"an export filter, repeatable: {', '.join(SNAPSHOT_FILTERS)}",
        )

    def handle(self, *args: object, **options: object) -> None:
        slugs = list(options["projects"])
        projects = list(Project.objects.filter(slug__in=slugs))
        missing = sorted(set(slugs) - {p.slug for p in projects})
        if missing:
            raise CommandError(f"No project {', '.join(missing)}.")
        filters = {}
        for item in options["filter"]:
            name, sep, value = item.partition("=")
            if not sep:
                raise CommandError(f"--filter {item!r}: expected NAME=VALUE")
            filters[name] = value
        try:
            snapshot = snapshot_create(
                spec=SnapshotSpec(
                    name=options["name"],
                    projects=projects,
                    filters=filters,
                    split_seed=options["seed"],
                    eval_fraction=options["eval_fraction"],
                )
            )
        except RankwiseError as exc:
            raise CommandError(exc.message) from exc
        except OSError as exc:
            raise CommandError(storage_error(exc, writing="the snapshot") + " Nothing was kept.") from exc
        self.stdout.write(
            f"snapshot {snapshot.pk} ready: {snapshot.train_rows} train, {snapshot.eval_rows} eval, "
            f"{snapshot.sft_rows} sft rows in {snapshot.directory} (sha256 {snapshot.sha256})"
        )
