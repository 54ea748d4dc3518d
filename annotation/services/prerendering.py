"""Rendering prompts and candidates to HTML once, ahead of the pages that show them.

Showing an item renders its prompt and candidates (annotation.rendering): about 0.05–0.15 ms for a
short text, several ms for a long answer with code, which Pygments highlights. A candidate sits in
several comparisons and each comparison goes to `overlap` annotators, so rendering on display does
the same work many times over, on the annotators' requests. Instead every text is rendered once and
kept (Prompt.messages_html, Candidate.html): an import queues annotation.tasks.texts_prerender when
it commits, and celery beat runs it every minute for texts that came another way (generation rounds,
arena battles, rows from before the columns). A row without its HTML yet is rendered by the page
itself, so this only ever saves time. Imported texts do not change (they are keyed by their content
hash); an edit in the Django admin drops the stored HTML, and the next run renders the text again.
"""

from __future__ import annotations

import time

from django.db import connection, transaction
from django.db.models import Model

from annotation.models import Candidate, Prompt
from annotation.rendering import markdown_render, messages_render

BATCH = 200
# One run's share of the default worker: it leaves the queue to other tasks after this long, and
# the next run (celery beat, a minute later) goes on where it stopped.
BUDGET_SECONDS = 10.0


def texts_prerender_later() -> None:
    """Queues texts_prerender on the default queue once the current transaction commits (at once
    outside one). A broker that cannot take it is logged, not raised: what committed stands, pages
    render its texts meanwhile, and celery beat's next run renders them."""
    from annotation.tasks import texts_prerender as task

    transaction.on_commit(lambda: task.apply_async(queue="default"), robust=True)


def texts_prerender(*, budget_seconds: float = BUDGET_SECONDS, limit: int | None = None) -> int:
    """Renders and stores the HTML of prompts and candidates that have none, oldest first (the
    queue's default order), BATCH rows of each at a time, until none is left, `limit` rows are done
    or `budget_seconds` have passed. Returns how many rows it rendered.

    Each batch locks its rows with SKIP LOCKED, so runs at the same time share the work instead of
    rendering the same rows twice."""
    deadline = time.monotonic() + budget_seconds
    done = 0
    pending = [
        (Prompt, "messages", "messages_html", messages_render),
        (Candidate, "text", "html", markdown_render),
    ]
    while pending and time.monotonic() < deadline and (limit is None or done < limit):
        for step in list(pending):
            size = BATCH if limit is None else min(BATCH, limit - done)
            if size == 0:
                break
            rendered = _batch_render(*step, size=size)
            done += rendered
            if rendered < size:
                pending.remove(step)
    return done


def _batch_render(model: type[Model], source: str, target: str, render, *, size: int) -> int:
    field = model._meta.get_field(target)
    with transaction.atomic():
        rows = list(
            model.objects.select_for_update(skip_locked=True)
            .filter(**{f"{target}__isnull": True})
            .order_by("pk")
            .values_list("pk", source)[:size]
        )
        # One UPDATE per row, sent together (psycopg pipelines executemany): 0.13 ms per short text
        # in all, of which rendering is 0.09, against 0.25 ms with bulk_update's CASE over the batch.
        with connection.cursor() as cursor:
            cursor.executemany(
                f"UPDATE {model._meta.db_table} SET {field.column} = %s WHERE id = %s",
                [(field.get_db_prep_save(render(value), connection), pk) for pk, value in rows],
            )
    return len(rows)
