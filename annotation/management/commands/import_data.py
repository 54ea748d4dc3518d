"""manage.py import_data PROJECT FILE: import a JSONL file (native, TRL or HH) into a project."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotation.errors import RankwiseError
from annotation.models import Project
from annotation.services.import_formats import FORMATS
from annotation.services.importing import data_import


class Command(BaseCommand):
    help = "Import a JSONL file into a project; on any invalid line, exit code 1 and the report on stderr."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("project", help="project slug")
        parser.add_argument("file", help="path of a .jsonl file, or - for standard input")
        parser.add_argument("--format", choices=FORMATS, default="auto", help="default: recognise it")
        parser.add_argument(
            "--as-judgments", action="store_true", help="TRL/HH rows become imported judgments (chosen first)"
        )
        parser.add_argument("--user", help="username recorded as the importer")

    def handle(
        self, *args: Any, project: str, file: str, format: str, as_judgments: bool, **options: Any
    ) -> None:
        target = Project.objects.filter(slug=project).first()
        if target is None:
            raise CommandError(f"No project {project!r}.")
        user = None
        if options["user"]:
            user = get_user_model().objects.filter(username=options["user"]).first()
            if user is None:
                raise CommandError(f"No user {options['user']!r}.")
        try:
            if file == "-":
                batch = self._import(target, sys.stdin.buffer, "stdin", format, as_judgments, user)
            else:
                path = Path(file)
                if not path.is_file():
                    raise CommandError(f"No file {file!r}.")
                with path.open("rb") as stream:
                    batch = self._import(target, stream, path.name, format, as_judgments, user)
        except RankwiseError as exc:
            for d in exc.details:
                where = f"line {d['line']}" if d.get("line") else "file"
                field = f" {d['field']}:" if d.get("field") else ""
                self.stderr.write(f"{where}:{field} {d['reason']}")
            raise CommandError(exc.message) from None
        if batch.already_imported:
            self.stdout.write(
                f"{batch.file_name} was already imported into {target.slug} "
                f"on {batch.created_at:%Y-%m-%d %H:%M}; nothing to do."
            )
            return
        self.stdout.write(
            f"Imported {batch.file_name} ({batch.format}, {batch.lines} lines) into {target.slug}: "
            f"{batch.prompts_created} prompts, {batch.candidates_created} candidates, "
            f"{batch.comparisons_created} comparisons, {batch.judgments_created} judgments."
        )

    def _import(self, project: Project, stream: Any, name: str, format: str, as_judgments: bool, user: Any):
        return data_import(
            project=project,
            file=stream,
            file_name=name,
            format=format,
            as_judgments=as_judgments,
            created_by=user,
        )
