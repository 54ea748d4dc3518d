"""URLs for bench/annotation_load.py: every product route plus two baselines and a floor.

/bench/baseline/<pk>/ is the cheapest JSON view Django serves on the same stack (middleware, gunicorn,
database): one SELECT by primary key, no authentication, no DRF. /bench/baseline-api/<pk>/ is the same
read behind DRF with the product's API defaults (session or token authentication, IsAuthenticated,
the throttles), which every door of the annotation API pays too.

/bench/floor/<slug>/ is the least a cycle can cost on this data model: what submit/ with next: true does to
the database, done by a plain Django view in one transaction of two statements, the second answered by
PostgreSQL as the JSON the client gets. The first statement reads the token and the membership,
records the judgment on the annotator's active lease (the lease, the comparison's count and the day's
tally with it) and locks the first free row of the product's pool (FOR UPDATE SKIP LOCKED); the second
leases that row if it still has room (as the product's claim checks it under the lock) and returns the
item with its stored HTML and the annotator's done count. It leaves out what the product does besides:
checking the answer against the item, replaying a repeated submission token, the annotator lock, gold
and sent-back items, shuffling the order, the remaining count, DRF. So no design of the cycle on this
data model costs less, and its ratio to the bare view bounds what any could reach.
"""

import json

from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from rest_framework.authtoken.models import Token
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.models import (
    Assignment,
    Candidate,
    Comparison,
    ComparisonCandidate,
    Judgment,
    JudgmentTally,
    Membership,
    Project,
    Prompt,
)
from annotation.selectors import annotating as selectors
from rankwise.urls import urlpatterns as product_urlpatterns


def _row(pk: int) -> dict | None:
    return Comparison.objects.filter(pk=pk).values("id", "judgment_count").first()


def baseline(request: HttpRequest, pk: int) -> JsonResponse:
    return JsonResponse({"comparison": _row(pk)})


class BaselineApi(APIView):
    def get(self, request: Request, pk: int) -> Response:
        return Response({"comparison": _row(pk)})


_A, _C, _J = Assignment._meta.db_table, Comparison._meta.db_table, Judgment._meta.db_table
_S, _K, _P = ComparisonCandidate._meta.db_table, Candidate._meta.db_table, Prompt._meta.db_table
_T = JudgmentTally._meta.db_table
_ACTIVE = f"'{Assignment.Status.ACTIVE.value}'"
_SUBMITTED = f"'{Assignment.Status.SUBMITTED.value}'"
_ANNOTATOR = f"'{Judgment.Source.ANNOTATOR.value}'"
# The product's pool, on the annotator and project that the statement itself reads from the token.
_POOL = (
    selectors.POOL_REGULAR.replace("%(annotator)s", "(SELECT id FROM me)")
    .replace("%(project)s", "(SELECT project FROM me)")
    .replace("%(overlap)s", "(SELECT overlap FROM me)")
)
# It locks the lease before the comparison, the reverse of the product's submission: safe only because
# the bench runs the floor alone, never beside the product's doors on the same rows.
_SUBMIT_AND_LOCK = f"""
    WITH me AS (
        SELECT t.user_id AS id, p.id AS project, p.overlap, p.lease_minutes
        FROM {Token._meta.db_table} t JOIN {Membership._meta.db_table} m ON m.user_id = t.user_id
        JOIN {Project._meta.db_table} p ON p.id = m.project_id WHERE t.key = %(key)s AND p.slug = %(slug)s),
    lease AS (
        UPDATE {_A} a SET status = {_SUBMITTED}, finished_at = %(now)s FROM me
        WHERE a.id = %(assignment)s AND a.annotator_id = me.id AND a.status = {_ACTIVE}
            AND a.expires_at > %(now)s
        RETURNING a.id, a.comparison_id, a.presented_order),
    judgment AS (
        INSERT INTO {_J} (comparison_id, assignment_id, annotator_id, source, ordering, strength, ratings,
            rationale, flags, presented_order, time_spent_ms, submission_token, created_at, updated_at)
        SELECT lease.comparison_id, lease.id, me.id, {_ANNOTATOR}, %(ordering)s::jsonb, '', '{{}}', '', '[]',
            lease.presented_order, %(time_spent_ms)s, %(token)s, %(now)s, %(now)s FROM lease, me
        RETURNING id, comparison_id),
    counted AS (
        UPDATE {_C} c SET judgment_count = c.judgment_count + 1 FROM judgment
        WHERE c.id = judgment.comparison_id),
    tally AS (
        INSERT INTO {_T} AS t (project_id, annotator_id, day, judgments)
        SELECT me.project, me.id, %(day)s, 1 FROM me, judgment
        ON CONFLICT (project_id, annotator_id, day) DO UPDATE SET judgments = t.judgments + 1),
    picked AS (
        SELECT c.id FROM {_C} c WHERE {_POOL} ORDER BY {selectors.POOL_ORDER} LIMIT 1 FOR UPDATE SKIP LOCKED)
    SELECT me.id, me.project, me.overlap, me.lease_minutes, (SELECT id FROM judgment), (SELECT id FROM picked)
    FROM me"""
_LEASE_AND_ITEM = f"""
    WITH taken AS (
        INSERT INTO {_A} (comparison_id, annotator_id, status, presented_order, skip_reason, leased_at,
            expires_at)
        SELECT %(comparison)s, %(annotator)s, {_ACTIVE},
            (SELECT jsonb_agg(candidate_id ORDER BY position) FROM {_S} WHERE comparison_id = %(comparison)s),
            '', %(now)s, %(now)s::timestamptz + make_interval(mins => %(lease_minutes)s::int)
        WHERE EXISTS (SELECT 1 FROM {_C} c WHERE c.id = %(comparison)s AND {selectors.POOL_REGULAR})
        RETURNING id, comparison_id, expires_at)
    SELECT json_build_object(
        'assignment', t.id, 'expires_at', t.expires_at, 'messages_html', p.messages_html,
        'candidates', (SELECT json_agg(json_build_object('id', k.id, 'html', k.html, 'text', k.text)
                       ORDER BY s.position) FROM {_S} s JOIN {_K} k ON k.id = s.candidate_id
                       WHERE s.comparison_id = t.comparison_id))::text,
        (SELECT sum(judgments) FROM {_T}
         WHERE project_id = %(project)s AND annotator_id = %(annotator)s)
    FROM taken t JOIN {_C} c ON c.id = t.comparison_id JOIN {_P} p ON p.id = c.prompt_id"""


@csrf_exempt
def floor(request: HttpRequest, slug: str) -> HttpResponse:
    body = json.loads(request.body)
    now = timezone.now()
    params = {
        "key": request.headers.get("Authorization", "").removeprefix("Token "),
        "slug": slug,
        "assignment": body["assignment"],
        "ordering": json.dumps(body["ordering"]),
        "time_spent_ms": body.get("time_spent_ms", 0),
        "token": body["submission_token"],
        "now": now,
        "day": timezone.localdate(now),
    }
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_SUBMIT_AND_LOCK, params)
        found = cursor.fetchone()
        if found is None:
            return JsonResponse({"detail": "Not a member of this project."}, status=403)
        annotator, project, overlap, lease_minutes, judgment, picked = found
        if judgment is None:
            return JsonResponse({"detail": "No active lease of yours with this id."}, status=409)
        item, done = "null", "null"
        if picked is not None:
            cursor.execute(
                _LEASE_AND_ITEM,
                {"comparison": picked, "annotator": annotator, "project": project, "overlap": overlap,
                 "lease_minutes": lease_minutes, "now": now},
            )  # fmt: skip
            # None when the row filled up before it was locked: the client asks next/ then.
            item, done = cursor.fetchone() or (item, done)
    return HttpResponse(
        f'{{"judgment": {judgment}, "next": {{"item": {item}, "counts": {{"done_total": {done}}}}}}}',
        status=201,
        content_type="application/json",
    )


urlpatterns = [
    path("bench/baseline/<int:pk>/", baseline),
    path("bench/baseline-api/<int:pk>/", BaselineApi.as_view()),
    path("bench/floor/<slug:slug>/", floor),
    *product_urlpatterns,
]
