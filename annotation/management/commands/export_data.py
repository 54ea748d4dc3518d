"""manage.py export_data PROJECT OUT: one project's data as a TRL dataset file (OUT "-" = stdout)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotation.models import Project
from annotation.services.exporting import export_spec_parse, export_write
from rankwise.errors import ValidationFailed, storage_error

# Door parameter names (annotation.services.exporting.PARAMS) as this command spells them.
OPTIONS = {
    "kind": "--kind",
    "format": "--format",
    "conversational": "--conversational",
    "ranking_pairs": "--ranking-pairs",
    "ties": "--ties",
    "aggregate": "--aggregate",
    "from": "--from",
    "to": "--to",
    "annotator": "--annotator",
    "exclude_annotator": "--exclude-annotator",
    "min_agreement": "--min-agreement",
    "rating_threshold": "--rating-threshold",
    "include_imported": "--no-imported",
    "round": "--round",
    "include_arena": "--include-arena",
}


class Command(BaseCommand):
    help = (
        "Export a project's judgments as preference, unpaired, sft or raw judgment rows, in JSONL or "
        "Parquet. See docs/exporting.md."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("project", help="project slug")
        parser.add_argument("out", help='output file, or "-" for stdout')
        parser.add_argument("--kind", default="preference", help="preference | unpaired | sft | judgments")
        parser.add_argument("--format", help="jsonl | parquet (default: from OUT's suffix, else jsonl)")
        parser.add_argument("--conversational", action="store_true", help="message lists instead of strings")
        parser.add_argument(
            "--ranking-pairs", default="all", help="all | adjacent: how rankings become pairs"
        )
        parser.add_argument(
            "--ties", default="drop", help='drop | keep (kept ties carry metadata {"tie": true})'
        )
        parser.add_argument(
            "--aggregate", default="judgment", help="judgment | majority (one row per comparison)"
        )
        parser.add_argument(
            "--from", dest="date_from", help="judged on or after (YYYY-MM-DD or ISO datetime)"
        )
        parser.add_argument("--to", dest="date_to", help="judged before; a bare date includes that day")
        parser.add_argument(
            "--annotator",
            action="append",
            default=[],
            help="only this annotator (username or id; repeatable)",
        )
        parser.add_argument(
            "--exclude-annotator", action="append", default=[], help="leave out this annotator (repeatable)"
        )
        parser.add_argument("--min-agreement", help="minimum per-comparison agreement, 0 to 1")
        parser.add_argument(
            "--rating-threshold", help="unpaired: label is true when the mean rating reaches it"
        )
        parser.add_argument("--no-imported", action="store_true", help="leave out imported judgments")
        parser.add_argument(
            "--round", action="append", default=[], help="only comparisons of this round (repeatable)"
        )
        parser.add_argument(
            "--include-arena", action="store_true", help="include arena battles (held out by default)"
        )

    def handle(self, *args: object, **options: object) -> None:
        slug, out = str(options["project"]), str(options["out"])
        project = Project.objects.filter(slug=slug).first()
        if project is None:
            raise CommandError(f"No project {slug!r}.")
        file_format = options["format"] or ("parquet" if Path(out).suffix == ".parquet" else "jsonl")
        params = {
            "kind": [options["kind"]],
            "format": [file_format],
            "conversational": ["true" if options["conversational"] else "false"],
            "ranking_pairs": [options["ranking_pairs"]],
            "ties": [options["ties"]],
            "aggregate": [options["aggregate"]],
            "from": [options["date_from"] or ""],
            "to": [options["date_to"] or ""],
            "annotator": self._user_ids(options["annotator"], "--annotator"),
            "exclude_annotator": self._user_ids(options["exclude_annotator"], "--exclude-annotator"),
            "min_agreement": [options["min_agreement"] or ""],
            "rating_threshold": [options["rating_threshold"] or ""],
            "include_imported": ["false" if options["no_imported"] else "true"],
            "round": list(options["round"]),
            "include_arena": ["true" if options["include_arena"] else "false"],
        }
        try:
            spec = export_spec_parse(params=params)
        except ValidationFailed as exc:
            raise CommandError(
                "; ".join(f"{OPTIONS.get(d['field'], d['field'])} {d['reason']}" for d in exc.details)
            ) from None
        if out == "-":
            result = export_write(projects=[project], spec=spec, out=sys.stdout.buffer)
            sys.stdout.buffer.flush()
        else:
            # Written beside OUT and renamed at the end, so OUT is never a half-written file.
            partial = f"{out}.partial"
            try:
                with open(partial, "wb") as file:
                    result = export_write(projects=[project], spec=spec, out=file)
                os.replace(partial, out)
            except OSError as exc:
                raise CommandError(storage_error(exc, writing=out) + " Nothing was written.") from exc
            finally:
                if os.path.exists(partial):
                    os.remove(partial)
        self.stderr.write(
            f"Exported {result.rows} {spec.kind} rows ({result.bytes} bytes, sha256 {result.sha256}) to {out}"
        )

    def _user_ids(self, values: list[str], option: str) -> list[str]:
        """Usernames or ids as ids; an unknown username is an error naming the option."""
        ids = []
        for value in values:
            for part in value.split(","):
                part = part.strip()
                if not part or part.isdigit():
                    ids.append(part)
                    continue
                user_id = get_user_model().objects.filter(username=part).values_list("id", flat=True).first()
                if user_id is None:
                    raise CommandError(f"{option}: no user {part!r}.")
                ids.append(str(user_id))
        return [",".join(ids)] if ids else []
