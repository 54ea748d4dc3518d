# Judgment tallies per project, annotator and day: the done counts on the annotate page read these
# few rows instead of counting the annotator's whole history with every item. Filled here from the
# judgments annotators recorded so far.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.db.models import Count
from django.db.models.functions import TruncDate


def _tallies_fill(apps, schema_editor):
    Judgment = apps.get_model("annotation", "Judgment")
    JudgmentTally = apps.get_model("annotation", "JudgmentTally")
    days = (
        Judgment.objects.filter(annotator__isnull=False)
        .annotate(day=TruncDate("created_at"))
        .values("comparison__project_id", "annotator_id", "day")
        .annotate(judgments=Count("id"))
        .order_by()
    )
    JudgmentTally.objects.bulk_create(
        (
            JudgmentTally(
                project_id=row["comparison__project_id"],
                annotator_id=row["annotator_id"],
                day=row["day"],
                judgments=row["judgments"],
            )
            for row in days.iterator()
        ),
        batch_size=1000,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("annotation", "0007_arena_keys"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="JudgmentTally",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("day", models.DateField()),
                ("judgments", models.PositiveIntegerField(default=0)),
                (
                    "annotator",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "project",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="annotation.project"
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("project", "annotator", "day"), name="judgment_tally_unique"
                    )
                ],
            },
        ),
        migrations.RunPython(_tallies_fill, migrations.RunPython.noop),
    ]
