"""manage.py import_data PROJECT FILE: import a JSONL file (native, TRL or HH) into a project."""

from __future__ import annotations

import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotation.models import Project
from annotation.services.import_formats import FORMATS
from annotation.services.importing import data_import, data_validate
from rankwise.errors import RankwiseError


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
        parser.add_argument("--check", action="store_true", help="only validate the file; write nothing")

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
        if file != "-" and not Path(file).is_file():
            raise CommandError(f"No file {file!r}.")
        name = "stdin" if file == "-" else Path(file).name
        try:
            with ExitStack() as stack:
                stream = sys.stdin.buffer if file == "-" else stack.enter_context(Path(file).open("rb"))
                if options["check"]:
                    result = data_validate(
                        file=stream, file_name=name, format=format, as_judgments=as_judgments
                    )
                    self.stdout.write(f"{name} is valid: {result['lines']} lines of {result['format']}.")
                    return
                batch = data_import(
                    project=target,
                    file=stream,
                    file_name=name,
                    format=format,
                    as_judgments=as_judgments,
                    created_by=user,
                )
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
