"""manage.py build_tiny_model: the tiny local model the demo and tests use (no downloads)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Build the tiny Llama-shaped model and tokenizer under the data directory (skipped if present)."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--output",
            default=settings.RANKWISE_DEFAULT_MODEL,
            help="where to write it (default: %(default)s)",
        )

    def handle(self, *args, output: str, **options) -> None:
        # The engine runs in its own process so this Django process never imports torch.
        subprocess.run(
            [sys.executable, "-m", "training.engine.testing.tiny", output],
            check=True,
            cwd=Path(settings.BASE_DIR),
            stdout=subprocess.DEVNULL,
        )
        self.stdout.write(f"Tiny model ready at {output}")
