"""manage.py load_demo: the demo users and projects (safe to re-run), then where to log in."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from annotation.services.demo import DEMO_LOGINS, demo_load
from rankwise.errors import RankwiseError


class Command(BaseCommand):
    help = "Load the demo users and projects; running it again adds nothing."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--url", default="http://127.0.0.1:8000/", help="where the app is served, for the message"
        )

    def handle(self, *args, url: str, **options) -> None:
        try:
            summary = demo_load()
        except RankwiseError as error:
            problems = "".join(
                f"\n  line {d.get('line')}: {d.get('field')}: {d.get('reason')}" for d in error.details
            )
            raise CommandError(f"{error.message}{problems}") from error
        self.stdout.write(
            f"Demo ready: projects {', '.join(summary.batches)} "
            f"({summary.projects_created} new, {summary.users_created} new users)."
        )
        for slug, batch in summary.batches.items():
            judged = f", {batch.judgments_created} judged" if batch.judgments_created else ""
            self.stdout.write(
                f"  {slug}: {batch.prompts_created} prompts, {batch.candidates_created} candidates, "
                f"{batch.comparisons_created} comparisons{judged}"
            )
        self.stdout.write(f"Open {url} and log in as:")
        width = max(len(login.username) for login in DEMO_LOGINS)
        for login in DEMO_LOGINS:
            self.stdout.write(
                f"  {login.username:<{width}}  password {login.password:<20}  {login.description}"
            )
