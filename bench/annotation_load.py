"""Annotation load: simulated annotators doing next item → submit through gunicorn, against a bare view.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/annotation_load.py \
        [--comparisons 1000000] [--levels 1,10,50] [--seconds 20] [--workers 3] [--keep]

On DATABASE_URL's server it creates a throw-away database (default rankwise_load_bench), migrates
it and bulk-loads N pairwise comparisons (N prompts, 2N candidates of ~600 characters of markdown)
with server-side `INSERT … SELECT generate_series(…)` statements, plus one annotator with an API
token per simulated annotator. It then serves the app with gunicorn as the Procfile runs it (gthread,
3 workers of 4 threads unless --workers and --threads say otherwise, production settings over plain
HTTP) with the settings module bench/load_settings.py, which adds routes only this benchmark has:
/bench/baseline/<pk>/, a plain Django JSON view doing one SELECT by primary key, and
/bench/baseline-api/<pk>/, the same read behind DRF with the product's API defaults (token
authentication, IsAuthenticated, the throttles). A third route, /bench/floor/<slug>/, is the floor:
what a cycle does to the database, done by a plain Django view in two statements and leaving out every
other rule of the product (bench/load_urls.py says which), so that its ratio to the bare view bounds
what any design of the cycle could reach (measured with --floor).

At each level of concurrency, an asyncio client (HTTP/1.1 keep-alive, one connection per annotator,
no think time) first measures the baseline (GET of a random comparison by pk), then the API baseline
(the same with each annotator's token), and then the cycle as the annotate page runs it: one POST
submit/ with next: true, whose answer brings the next item (a first POST next/ starts each annotator
off), with token auth, each for --seconds; --separate runs the cycle as two requests, POST next/ →
POST submit/; --think adds a pause after each cycle (0 by default: every annotator always has a
request in flight), --replay-every N sends every Nth submission twice, as a client whose response
was lost does. With --floor, the same annotators then run as many cycles through the floor view
(never replayed). It prints throughput, p50 and p99 (per request and per cycle), the ratio of cycle
throughput to baseline throughput (the API baseline's row gives its own ratio to the baseline; the
"vs api" column, cycles over the API baseline), the CPU that gunicorn's workers, PostgreSQL's
backends and the client used per request, and the load average.
Afterwards it checks that every cycle the client saw succeed left exactly one judgment, counts 5xx
answers in gunicorn's access log, checks the lease and judgment rules on the whole database, prints
the queries each door runs (in-process, Django's CaptureQueriesContext), and measures in this
process, one request at a time, the CPU (Python and database backend) of a baseline request, an API
baseline request, a cycle, one statement and one transaction: the API baseline plus the fixed cost
of the cycle's statements and transactions bounds the ratio any cycle with those statements could
reach, and the bare request plus the database's own work for a cycle (its backend CPU less the fixed
cost of its statements and transactions) bounds what any design could reach; with --floor, a cycle
through the floor view too, the same bound measured instead of derived. Last, the database
backend's CPU around each statement of a cycle (from the scheduler's nanosecond count in
/proc/<pid>/schedstat), to show which statements the database time goes to. It drops the database
unless --keep (a kept database is reused by the next run, without reloading).

Before the run, the product's background pass (annotation.services.prerendering) stores the HTML of
the oldest --prerender prompts and candidates, the front of the queue, as a project has it once the
pass has run after its import; after the run the bench says how many judged items were shown from
stored HTML.

--cycles-only N runs N such cycles in this process and nothing else, on a database it keeps. Python
instructions per cycle, which other tenants of the machine do not move: run it under
`valgrind --tool=callgrind` with N = 20 and N = 60; the difference of the two totals over 40.

Annotators hammer without pause, so the per-user API throttle (1200/min) is raised for the run
through RANKWISE_THROTTLE_USER; everything else is the product's configuration.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
SLUG = "load"
FLOOR_PATH = f"/bench/floor/{SLUG}/"
GUNICORN = Path(sys.executable).with_name("gunicorn")


def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def _django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    # As gunicorn runs below: connections kept, no throttling of the hammering annotators, so that
    # the in-process costs (in_process_costs) are measured on the same footing.
    os.environ.setdefault("DATABASE_CONN_MAX_AGE", "600")
    os.environ.setdefault("RANKWISE_THROTTLE_USER", "1000000/min")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rankwise.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def _load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


# ----------------------------------------------------------------------------- data


def fill(comparisons: int, annotators: int) -> float:
    """The project, its comparisons and the annotators with their tokens; returns seconds."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from rest_framework.authtoken.models import Token

    from annotation import models

    started = time.perf_counter()
    project = models.Project.objects.create(name="Load", slug=SLUG)
    t = {m.__name__: m._meta.db_table for m in (models.Prompt, models.Candidate, models.Comparison,
                                                models.ComparisonCandidate)}  # fmt: skip
    # Candidates look like real completions: a paragraph, a list and inline code, ~600 characters,
    # so rendering markdown costs what it costs in production.
    statements = [
        f"""INSERT INTO {t["Prompt"]} (id, project_id, external_id, messages, metadata, content_hash, round,
                created_at)
            SELECT i, {project.pk}, '', jsonb_build_array(jsonb_build_object('role', 'user', 'content',
                   'Question ' || i || ': how would you explain `' || md5(i::text) || '` to a colleague?')),
                   '{{}}', md5('p' || i), 0, now()
            FROM generate_series(1, {comparisons}) AS i""",
        f"""INSERT INTO {t["Candidate"]} (id, prompt_id, text, model_name, generation_params, content_hash,
                round, created_at)
            SELECT c, (c + 1) / 2,
                   'Answer ' || c || '. ' || repeat(md5(c::text) || ' ', 8) || E'\\n\\n'
                   || '- first, `' || md5('a' || c) || E'`\\n- then **' || md5('b' || c) || E'**\\n\\n'
                   || repeat(md5('d' || c) || ' ', 6),
                   'model-' || c % 2, '{{}}', md5('c' || c), 0, now()
            FROM generate_series(1, {2 * comparisons}) AS c""",
        f"""INSERT INTO {t["Comparison"]} (id, project_id, prompt_id, key, priority, round, judgment_count,
                extra_judgments, arena, created_at)
            SELECT i, {project.pk}, i, md5('k' || i), 0, 0, 0, 0, false, now()
            FROM generate_series(1, {comparisons}) AS i""",
        f"""INSERT INTO {t["ComparisonCandidate"]} (comparison_id, candidate_id, position)
            SELECT (c + 1) / 2, c, (c + 1) % 2 FROM generate_series(1, {2 * comparisons}) AS c""",
    ]
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
        for table in (t["Prompt"], t["Candidate"], t["Comparison"]):
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
            )
        for table in t.values():
            cursor.execute(f"VACUUM ANALYZE {table}")
    users = get_user_model().objects.bulk_create(
        get_user_model()(username=f"annotator{i}") for i in range(annotators)
    )
    models.Membership.objects.bulk_create(models.Membership(project=project, user=u) for u in users)
    Token.objects.bulk_create(Token(user=u, key=Token.generate_key()) for u in users)
    return time.perf_counter() - started


def prerendered(texts: int) -> tuple[int, float]:
    """Stores the HTML of the oldest `texts` prompts and candidates (the front of the queue) with
    the product's background pass, as a project has it once that pass has run after its import;
    returns how many it rendered now (rows stored by an earlier run count) and the seconds."""
    from annotation.models import Candidate, Prompt
    from annotation.services.prerendering import texts_prerender

    started = time.perf_counter()
    stored = Prompt.objects.filter(messages_html__isnull=False).count()
    stored += Candidate.objects.filter(html__isnull=False).count()
    rendered = texts_prerender(budget_seconds=float("inf"), limit=texts - stored) if texts > stored else 0
    return rendered, time.perf_counter() - started


def served_stored() -> tuple[int, int]:
    """(comparisons judged, of which every text had stored HTML)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT count(*), count(*) FILTER (WHERE p.messages_html IS NOT NULL AND NOT EXISTS (
                   SELECT 1 FROM annotation_comparisoncandidate s JOIN annotation_candidate k
                   ON k.id = s.candidate_id WHERE s.comparison_id = c.id AND k.html IS NULL))
               FROM annotation_comparison c JOIN annotation_prompt p ON p.id = c.prompt_id
               WHERE c.judgment_count > 0"""
        )
        return cursor.fetchone()


def loaded(comparisons: int, annotators: int) -> bool:
    from django.contrib.auth import get_user_model

    from annotation.models import Comparison, Project

    project = Project.objects.filter(slug=SLUG).first()
    return (
        project is not None
        and Comparison.objects.filter(project=project).count() == comparisons
        and get_user_model().objects.filter(memberships__project=project).count() >= annotators
    )


def tokens(annotators: int) -> list[str]:
    from rest_framework.authtoken.models import Token

    keys = Token.objects.filter(user__username__startswith="annotator").order_by("user_id")
    return list(keys.values_list("key", flat=True)[:annotators])


# ----------------------------------------------------------------------------- client


class Http:
    """One keep-alive HTTP/1.1 connection: the least client work per request, so the server gets the CPU."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, body: bytes | None = None, token: str = ""
    ) -> tuple[int, bytes]:
        for attempt in (1, 2):
            if self.writer is None:
                self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
            head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            if token:
                head += f"Authorization: Token {token}\r\n"
            if body is not None:
                head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            self.writer.write(head.encode() + b"\r\n" + (body or b""))
            status_line = await self.reader.readline()
            if status_line:
                break
            # The server closed an idle keep-alive connection before reading this request: nothing
            # was processed, so sending it again on a new connection is safe.
            self.close()
            if attempt == 2:
                raise ConnectionError(f"{method} {path}: connection closed twice")
        status = int(status_line.split()[1])
        length, chunked, close = 0, False, False
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding":
                chunked = "chunked" in value
            elif name == "connection":
                close = value == "close"
        if chunked:
            parts = []
            while size := int((await self.reader.readline()).strip(), 16):
                parts.append(await self.reader.readexactly(size))
                await self.reader.readline()
            await self.reader.readline()
            data = b"".join(parts)
        else:
            data = await self.reader.readexactly(length)
        if close:
            self.close()
        return status, data

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


@dataclass
class Tally:
    """What one measurement saw: latencies in seconds, and answers other than success."""

    requests: list[float] = field(default_factory=list)
    cycles: list[float] = field(default_factory=list)
    judgments: list[int] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    client_cpu: float = 0.0
    web_cpu: float = 0.0
    db_cpu: float = 0.0

    def error(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1


async def _baseline_user(port: int, ids: int, deadline: float, tally: Tally, route: str, token: str) -> None:
    http = Http(port)
    try:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            status, _ = await http.request("GET", f"/bench/{route}/{random.randint(1, ids)}/", token=token)
            tally.requests.append(time.perf_counter() - started)
            if status != 200:
                tally.error(f"{route} {status}")
    finally:
        http.close()


async def _cycle_user(
    port: int, token: str, deadline: float, options: argparse.Namespace, tally: Tally, floor: bool = False
) -> None:
    """An annotator's cycles; floor: each answer goes to the bench's floor view instead of submit/
    (never replayed: the floor does not replay a submission token)."""
    http = Http(port)
    next_path = f"/api/projects/{SLUG}/next/"
    submit_path = FLOOR_PATH if floor else f"/api/projects/{SLUG}/submit/"
    if options.think:
        await asyncio.sleep(random.uniform(0, options.think))  # people do not all start at once
    # As the annotate page does, each submission asks for the next item (one request per cycle),
    # unless --separate: next/ then submit/, two requests per cycle.
    item = None
    try:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            if item is None:
                status, data = await http.request("POST", next_path, b"{}", token)
                tally.requests.append(time.perf_counter() - started)
                if status != 200:
                    tally.error(f"next {status}")
                    continue
                item = json.loads(data)["item"]
                if item is None:
                    tally.error("queue empty")
                    return
            first, second = (c["id"] for c in item["candidates"])
            answer = {
                "assignment": item["assignment"],
                "submission_token": secrets.token_hex(16),
                "ordering": [[first], [second]],
                "time_spent_ms": 1500,
                "next": not options.separate,
            }
            middle = time.perf_counter()
            status, data = await http.request("POST", submit_path, json.dumps(answer).encode(), token)
            done = time.perf_counter()
            tally.requests.append(done - middle)
            item = None
            if status != 201:
                tally.error(f"submit {status}")
                continue
            tally.cycles.append(done - started)
            reply = json.loads(data)
            tally.judgments.append(reply["judgment"])
            if floor or not options.separate:
                item = reply["next"]["item"]
            if not floor and options.replay_every and len(tally.cycles) % options.replay_every == 0:
                # As a client whose response was lost: the same submission again must name the same
                # judgment (and the same next item, the lease now held).
                status, data = await http.request("POST", submit_path, json.dumps(answer).encode(), token)
                again = json.loads(data) if status == 201 else {}
                if again.get("judgment") != reply["judgment"] or (
                    item is not None and again["next"]["item"]["assignment"] != item["assignment"]
                ):
                    tally.error(f"replay {status}")
            if options.think:
                await asyncio.sleep(options.think)
    finally:
        http.close()


def _process_cpu(pid: int) -> float:
    """User + system CPU seconds of a process so far; 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Server:
    """The gunicorn master and the database whose backends serve it, for CPU accounting."""

    port: int
    process: subprocess.Popen
    admin_url: str
    database: str

    def workers(self) -> list[int]:
        pids = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                if int(stat.read_text().rpartition(")")[2].split()[1]) == self.process.pid:
                    pids.append(int(stat.parent.name))
            except (OSError, ValueError):
                continue
        return pids

    def backends(self) -> list[int]:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as admin:
            rows = admin.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", [self.database])
            return [pid for (pid,) in rows]

    def cpu(self) -> dict[int, float]:
        return {pid: _process_cpu(pid) for pid in [*self.workers(), *self.backends()]}


def measure(
    kind: str, server: Server, users: list[str], ids: int, seconds: float, options: argparse.Namespace
) -> Tally:
    tally = Tally()
    port = server.port

    async def run() -> None:
        deadline = time.perf_counter() + seconds
        if kind == "baseline":
            jobs = [_baseline_user(port, ids, deadline, tally, "baseline", "") for _ in users]
        elif kind == "api-baseline":
            jobs = [_baseline_user(port, ids, deadline, tally, "baseline-api", token) for token in users]
        else:
            jobs = [_cycle_user(port, token, deadline, options, tally, kind == "floor") for token in users]
        await asyncio.gather(*jobs)

    workers = set(server.workers())
    server_before = server.cpu()
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    asyncio.run(run())
    tally.seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    tally.client_cpu = (after.ru_utime - cpu.ru_utime) + (after.ru_stime - cpu.ru_stime)
    # A backend that is new since the start (no persistent connections) counts whole.
    for pid, seconds_used in server.cpu().items():
        used = seconds_used - server_before.get(pid, 0.0)
        if pid in workers:
            tally.web_cpu += used
        else:
            tally.db_cpu += used
    return tally


LINE = "{:>10} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10} {:>7} {:>7} {:>7} {:>8} {:>7}  {}"


def _row(
    line: str, level: object, what: str, rate: float, tally: Tally, ratio: str, api_ratio: str, load: str
) -> str:
    cycles = [f"{_ms(tally.cycles, 0.5):.1f}", f"{_ms(tally.cycles, 0.99):.1f}"] if tally.cycles else ["", ""]
    return line.format(
        level, what, f"{rate:,.0f}", f"{_ms(tally.requests, 0.5):.1f}", f"{_ms(tally.requests, 0.99):.1f}",
        *cycles, f"{1000 * tally.web_cpu / len(tally.requests):.2f}",
        f"{1000 * tally.db_cpu / len(tally.requests):.2f}", f"{100 * tally.client_cpu / tally.seconds:.0f}%",
        ratio, api_ratio, load,
    )  # fmt: skip


def _ms(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# ----------------------------------------------------------------------------- server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gunicorn(url: str, port: int, workers: int, threads: int, log: Path) -> subprocess.Popen:
    """The web process as the Procfile starts it, with production settings on plain HTTP."""
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "bench.load_settings",
        "RANKWISE_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(40),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "RANKWISE_THROTTLE_USER": "1000000/min",
        # Production counts throttles in a shared Redis: one round trip per API request, as deployed.
        "RANKWISE_CACHE_URL": os.environ.get("RANKWISE_CACHE_URL", "redis://127.0.0.1:6379/1"),
        "RANKWISE_CACHE_KEY_PREFIX": f"bench-{secrets.token_hex(4)}",
        # Connections live through the run, so the backends whose CPU is counted do not come and go
        # (the production default, 60 s, only adds a reconnect a minute per thread).
        "DATABASE_CONN_MAX_AGE": os.environ.get("DATABASE_CONN_MAX_AGE", "600"),
        "LOG_LEVEL": "WARNING",
        "RANKWISE_STATIC_ROOT": str(log.parent),
    }
    command = [
        str(GUNICORN), "rankwise.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
        "--worker-class", "gthread", "--threads", str(threads), "--access-logfile", str(log),
    ]  # fmt: skip
    server = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)
    deadline = time.monotonic() + 60
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return server
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                sys.exit("gunicorn did not start")
            time.sleep(0.2)


def stop(server: subprocess.Popen) -> None:
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


def invariants() -> list[str]:
    """The lease and judgment rules, checked on the whole database after the run."""
    from django.db import connection

    checks = {
        "comparisons over their overlap": """
            SELECT count(*) FROM (SELECT j.comparison_id FROM annotation_judgment j GROUP BY j.comparison_id
            HAVING count(*) > (SELECT overlap FROM annotation_project WHERE slug = %s)) o""",
        "annotators on one comparison twice": """
            SELECT count(*) FROM (SELECT 1 FROM annotation_assignment GROUP BY comparison_id, annotator_id
            HAVING count(*) > 1) d""",
        "annotators holding two leases": """
            SELECT count(*) FROM (SELECT 1 FROM annotation_assignment WHERE status = 'active'
            AND expires_at > now() GROUP BY annotator_id HAVING count(*) > 1) d""",
        "comparisons whose judgment_count is wrong": """
            SELECT count(*) FROM annotation_comparison c LEFT JOIN (SELECT comparison_id, count(*) AS n
            FROM annotation_judgment GROUP BY comparison_id) j ON j.comparison_id = c.id
            WHERE c.judgment_count <> coalesce(j.n, 0)""",
    }
    problems = []
    with connection.cursor() as cursor:
        for name, sql in checks.items():
            cursor.execute(sql, [SLUG] if "%s" in sql else [])
            if count := cursor.fetchone()[0]:
                problems.append(f"{count} {name}")
    return problems


def queries_per_door(token: str) -> dict[str, list[str]]:
    """The statements each door runs for one cycle (BEGIN and COMMIT included), in this process,
    on the bench database."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    doors = {}
    with CaptureQueriesContext(connection) as next_queries:
        item = client.post(f"/api/projects/{SLUG}/next/", {}, format="json").json()["item"]
    doors["next"] = [q["sql"] for q in next_queries]
    first, second = (c["id"] for c in item["candidates"])
    answer = {"assignment": item["assignment"], "submission_token": secrets.token_hex(16),
              "ordering": [[first], [second]]}  # fmt: skip
    with CaptureQueriesContext(connection) as submit_queries:
        reply = client.post(f"/api/projects/{SLUG}/submit/", {**answer, "next": True}, format="json")
    assert reply.status_code == 201
    doors["submit with next"] = [q["sql"] for q in submit_queries]
    item = reply.json()["next"]["item"]
    first, second = (c["id"] for c in item["candidates"])
    answer = {"assignment": item["assignment"], "submission_token": secrets.token_hex(16),
              "ordering": [[first], [second]]}  # fmt: skip
    with CaptureQueriesContext(connection) as submit_queries:
        assert client.post(f"/api/projects/{SLUG}/submit/", answer, format="json").status_code == 201
    doors["submit"] = [q["sql"] for q in submit_queries]
    return doors


def _backend_ns(pid: int) -> int:
    """Nanoseconds a process has run on a CPU so far (the scheduler's own count, finer than /proc's
    clock ticks, which a single statement would not move)."""
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])


class InProcess:
    """Requests through Django's WSGI handler in this process (no HTTP, no threads), with an
    annotator's token; cycle() answers the current item and gets the next, as the annotate page does."""

    def __init__(self, token: str, submit_path: str = f"/api/projects/{SLUG}/submit/") -> None:
        from django.core.handlers.wsgi import WSGIHandler

        self.token = token
        self.submit_path = submit_path
        self.handler = WSGIHandler()
        self.item: dict = {}

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[str, bytes]:
        import io

        data = json.dumps(body).encode() if body is not None else b""
        environ = {
            "REQUEST_METHOD": method, "PATH_INFO": path, "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80",
            "HTTP_HOST": "127.0.0.1", "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(data),
            "CONTENT_LENGTH": str(len(data)), "CONTENT_TYPE": "application/json",
            "HTTP_AUTHORIZATION": f"Token {self.token}",
        }  # fmt: skip
        status: list[str] = []
        answer = b"".join(self.handler(environ, lambda line, headers, exc_info=None: status.append(line)))
        return status[0], answer

    def cycle(self) -> None:
        if not self.item:
            self.item = json.loads(self.call("POST", f"/api/projects/{SLUG}/next/", {})[1])["item"]
        first, second = (c["id"] for c in self.item["candidates"])
        answer = {"assignment": self.item["assignment"], "submission_token": secrets.token_hex(16),
                  "ordering": [[first], [second]], "time_spent_ms": 1500, "next": True}  # fmt: skip
        status, data = self.call("POST", self.submit_path, answer)
        assert status.startswith("201"), data
        self.item = json.loads(data)["next"]["item"]


def cycles_only(token: str, n: int) -> None:
    """n in-process cycles, after 10 to warm up, and their CPU, nothing else: for a profiler, or for
    valgrind's instruction count, run twice with different n and subtract (start-up cancels out)."""
    from django.test.utils import override_settings

    annotator = InProcess(token)
    with override_settings(DEBUG=False, ROOT_URLCONF="bench.load_urls"):
        for _ in range(10):  # warm: imports, prepared statements, caches
            annotator.cycle()
        started = time.process_time()
        for _ in range(n):
            annotator.cycle()
    if n:
        each = 1000 * (time.process_time() - started) / n
        print(f"{n} cycles in-process: {each:.3f} ms of Python CPU each")


def in_process_costs(
    token: str, comparisons: int, rounds: int, floor_token: str | None = None
) -> tuple[dict[str, tuple[float, float]], dict[str, tuple[float, float]]]:
    """CPU per request through Django's WSGI handler in this process, one request at a time (no
    HTTP, no threads, no other load): (Python ms, database backend ms) for the baseline, the API
    baseline and a cycle (with floor_token, also a cycle of that annotator through the floor view),
    and for one statement (SELECT 1 through Django's cursor) and one transaction around it, which
    every statement and transaction of a cycle pays at least.

    Then, over as many further cycles, the backend's CPU around each statement: by the statement's
    opening, (calls per cycle, backend µs per call). A transaction's BEGIN goes with its first
    statement; COMMIT and Django's health check are left out (the cycle's database figure has them)."""
    from django.db import connection, transaction
    from django.test.utils import override_settings

    annotator = InProcess(token)

    def backend_pid() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            return cursor.fetchone()[0]

    def cost(step, n: int) -> tuple[float, float]:
        backend = backend_pid()
        python, database = time.process_time(), _process_cpu(backend)
        for _ in range(n):
            step()
        return (
            1000 * (time.process_time() - python) / n,
            1000 * (_process_cpu(backend) - database) / n,
        )

    def baseline(route: str):
        def step() -> None:
            path = f"/bench/{route}/{random.randint(1, comparisons)}/"
            assert annotator.call("GET", path)[0].startswith("200")

        return step

    def statement() -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()

    def in_transaction() -> None:
        with transaction.atomic():
            statement()

    by_statement: dict[str, list[int]] = {}

    def record(execute, sql, params, many, context):
        before = _backend_ns(backend)
        try:
            return execute(sql, params, many, context)
        finally:
            calls = by_statement.setdefault(" ".join(sql.split())[:72], [0, 0])
            calls[0] += 1
            calls[1] += _backend_ns(backend) - before

    costs = {}
    with override_settings(DEBUG=False, ROOT_URLCONF="bench.load_urls"):
        steps = [
            ("baseline", baseline("baseline"), 4 * rounds),
            ("api baseline", baseline("baseline-api"), 4 * rounds),
            ("cycle", annotator.cycle, rounds),
            *([("floor", InProcess(floor_token, FLOOR_PATH).cycle, rounds)] if floor_token else []),
            ("statement", statement, 10 * rounds),
            ("transaction", in_transaction, 10 * rounds),
        ]
        for name, step, n in steps:
            cost(step, max(10, n // 10))  # warm: prepared statements, caches
            costs[name] = cost(step, n)
        backend = backend_pid()
        with connection.execute_wrapper(record):
            for _ in range(rounds):
                annotator.cycle()
    # The transaction's own cost: its statement is counted once already.
    costs["transaction"] = tuple(t - s for t, s in zip(costs["transaction"], costs["statement"], strict=True))
    statements = {sql: (n / rounds, ns / n / 1000) for sql, (n, ns) in by_statement.items()}
    return costs, dict(sorted(statements.items(), key=lambda item: -item[1][0] * item[1][1]))


# ----------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--comparisons", type=int, default=1_000_000)
    parser.add_argument("--levels", default="1,10,50", help="concurrent annotators, comma-separated")
    parser.add_argument("--seconds", type=float, default=20, help="length of each measurement")
    parser.add_argument(
        "--baseline-seconds", type=float, help="a shorter baseline measurement (for long soak runs)"
    )
    parser.add_argument(
        "--separate", action="store_true", help="next/ then submit/ per cycle, not submit/ with next: true"
    )
    parser.add_argument("--think", type=float, default=0, help="seconds each annotator waits between cycles")
    parser.add_argument(
        "--replay-every", type=int, default=0, help="send every Nth submission twice (a lost response)"
    )
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers (the Procfile's default)")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker (the Procfile's)")
    parser.add_argument(
        "--in-process-rounds", type=int, default=300, help="cycles of the in-process cost measurement"
    )
    parser.add_argument("--database", default="rankwise_load_bench", help="scratch database to create")
    parser.add_argument("--keep", action="store_true", help="keep the database (and reuse it next time)")
    parser.add_argument(
        "--prerender",
        type=int,
        default=150_000,
        metavar="TEXTS",
        help="store the HTML of the oldest TEXTS prompts and candidates first, as the background pass "
        "does after an import (0: store none; items without it are rendered as they are shown)",
    )
    parser.add_argument(
        "--floor",
        action="store_true",
        help="after each cycle measurement, measure the floor: the cycle's database effects by a plain view "
        "in two statements (bench/load_urls.py), the least any design of the cycle could cost",
    )
    parser.add_argument(
        "--py-spy", help="record gunicorn with py-spy (this binary) during the last cycle run"
    )
    parser.add_argument(
        "--cycles-only",
        type=int,
        metavar="N",
        help="only run N cycles in-process on the database (loaded if need be, then kept) and print their "
        "CPU: for a profiler or valgrind",
    )
    args = parser.parse_args()
    if args.cycles_only is not None:
        args.keep = True
    levels = [int(level) for level in args.levels.split(",")]
    # A SIGTERM (a timeout, an impatient operator) still stops gunicorn and drops the database.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped by SIGTERM"))
    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith(("postgres://", "postgresql://")):
        sys.exit("Set DATABASE_URL to a PostgreSQL server (any database on it): the bench creates its own.")
    import psycopg

    url = _with_database(base, args.database)
    with psycopg.connect(base, autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [args.database]).fetchone()
        if not (exists and args.keep):
            admin.execute(f'DROP DATABASE IF EXISTS "{args.database}"')
            admin.execute(f'CREATE DATABASE "{args.database}"')
    server = None
    scratch = Path(tempfile.mkdtemp(prefix="rankwise-load-"))
    try:
        _django(url)
        from django.core.management import call_command
        from django.db import connections

        from annotation.models import Judgment

        call_command("migrate", verbosity=0)
        if not loaded(args.comparisons, max(levels)):
            print(f"Loading {args.comparisons:,} comparisons ...", flush=True)
            print(f"  loaded in {fill(args.comparisons, max(levels)):.1f} s", flush=True)
        if args.prerender:
            rendered, seconds = prerendered(args.prerender)
            print(
                f"Stored HTML for the oldest {args.prerender:,} texts: {rendered:,} rendered, {seconds:.1f} s"
            )
        keys = tokens(max(levels))
        if args.cycles_only is not None:
            cycles_only(keys[0], args.cycles_only)
            return
        connections.close_all()

        port = _free_port()
        log = scratch / "access.log"
        server = gunicorn(url, port, args.workers, args.threads, log)
        web = Server(port=port, process=server, admin_url=base, database=args.database)
        # Warm-up: every worker thread opens its connection and imports what the doors need.
        measure("baseline", web, keys, args.comparisons, 2, args)
        measure("api-baseline", web, keys, args.comparisons, 2, args)
        measure("cycle", web, keys, args.comparisons, 2, args)
        judgments_before = Judgment.objects.count()
        with connections["default"].cursor() as cursor:
            # Statistics on the lease and judgment tables, which the warm-up started to fill, as
            # autovacuum gathers them on a live database: without them the planner takes these
            # tables for empty and scans an annotator's whole history for every candidate row.
            cursor.execute("ANALYZE annotation_assignment, annotation_judgment")
        connections.close_all()

        print(f"\n{args.comparisons:,} comparisons, gunicorn {args.workers} workers x {args.threads} "
              f"threads, {args.seconds:.0f} s per measurement, think time {args.think} s, "
              f"{os.cpu_count()} CPUs\n")  # fmt: skip
        print(LINE.format("annotators", "what", "per s", "p50 ms", "p99 ms", "cyc p50", "cyc p99",
                          "web ms", "db ms", "client", "ratio", "vs api", "load average"))  # fmt: skip
        cycled: list[int] = []
        errors: dict[str, int] = {}
        served: Tally | None = None  # the first baseline measurement, for gunicorn's cost per request
        for n, level in enumerate(levels):
            users = keys[:level]
            base_seconds = min(args.seconds, args.baseline_seconds or args.seconds)
            base_tally = measure("baseline", web, users, args.comparisons, base_seconds, args)
            served = served or base_tally
            api_tally = measure("api-baseline", web, users, args.comparisons, base_seconds, args)
            spy = None
            if args.py_spy and n == len(levels) - 1:
                profile = log.with_name("py-spy.txt")
                spy = subprocess.Popen([args.py_spy, "record", "--pid", str(server.pid), "--subprocesses",
                                        "--format", "raw", "--output", str(profile), "--nonblocking",
                                        "--duration", str(int(args.seconds))])  # fmt: skip
            cycle_tally = measure("cycle", web, users, args.comparisons, args.seconds, args)
            if spy is not None:
                spy.wait()
                print(f"py-spy profile (collapsed stacks): {profile}")
            tallies = [base_tally, api_tally, cycle_tally]
            if args.floor:
                tallies.append(measure("floor", web, users, args.comparisons, args.seconds, args))
            for tally in tallies[2:]:
                cycled.extend(tally.judgments)
            for tally in tallies:
                for what, count in tally.errors.items():
                    errors[what] = errors.get(what, 0) + count
            base_rate = len(base_tally.requests) / base_tally.seconds
            api_rate = len(api_tally.requests) / api_tally.seconds
            print(_row(LINE, level, "baseline", base_rate, base_tally, "", "", _load_average()))
            print(_row(LINE, "", "api base", api_rate, api_tally, f"{api_rate / base_rate:.2f}x", "", ""))
            for what, tally in zip(("cycle", "floor"), tallies[2:], strict=False):
                rate = len(tally.cycles) / tally.seconds
                ratios = f"{rate / base_rate:.2f}x", f"{rate / api_rate:.2f}x"
                print(_row(LINE, "", what, rate, tally, *ratios, ""), flush=True)
        stop(server)
        server = None

        print("\n'per s': baseline requests, or cycles (an answer and the next item), per second;")
        print("p50/p99 per request; 'cyc': one whole cycle; 'web ms', 'db ms': CPU of gunicorn's workers")
        print("and of PostgreSQL's backends per request; 'client': CPU the load generator used;")
        print("ratio: cycles/s (or API baseline requests/s) over baseline/s;")
        print("'vs api': cycles/s over API baseline requests/s; 'floor' (--floor): the cycle's database")
        print("effects by a plain view in two statements (bench/load_urls.py), a bound for any design")
        recorded = Judgment.objects.count() - judgments_before
        print(f"\nchecks: {len(cycled)} cycles succeeded, {recorded} judgments recorded, "
              f"{len(set(cycled))} distinct; other answers: {errors or 'none'}")  # fmt: skip
        statuses = [entry.split('"')[2].split()[0] for entry in log.read_text().splitlines() if '"' in entry]
        server_errors = sum(status.startswith("5") for status in statuses)
        print(f"gunicorn access log: {len(statuses)} requests, {server_errors} with a 5xx status")
        problems = invariants()
        print(f"invariants: {'; '.join(problems) or 'all hold'}")
        judged, stored = served_stored()
        print(f"comparisons judged: {judged}, {stored} of them shown from stored HTML")
        assert recorded == len(cycled) == len(set(cycled)), "a successful submission was lost or doubled"
        assert not problems and not server_errors
        doors = queries_per_door(keys[0])
        counts = {door: len(statements) for door, statements in doors.items()}
        print(f"queries per door (one cycle, in-process): {counts}")
        # The floor's cycles in-process run as another annotator than the cycle's (so none with one).
        floor_token = keys[-1] if args.floor and len(keys) > 1 else None
        costs, statements = in_process_costs(keys[0], args.comparisons, args.in_process_rounds, floor_token)
        print("\nCPU per request in-process, one at a time (Python / database backend, ms):")
        for name, (python, database) in costs.items():
            print(f"  {name:>12}: {python:.3f} / {database:.3f}")
        print("  the backend's CPU by statement (calls per cycle, µs per call; BEGIN goes with the first):")
        for sql, (calls, micros) in statements.items():
            print(f"    {calls:4.2f} {micros:7.1f}  {sql}")
        # The least a cycle can cost with its statements: the API baseline (DRF, token read, one
        # SELECT) plus the cost of each further statement and transaction, nothing else.
        cycle_sql = doors["submit with next"]
        transactions = sum(sql == "BEGIN" for sql in cycle_sql)
        statements = len(cycle_sql) - 2 * transactions
        bound = sum(costs["api baseline"]) + (statements - 2) * sum(costs["statement"])
        bound += transactions * sum(costs["transaction"])
        bare, cycle = sum(costs["baseline"]), sum(costs["cycle"])
        # What serving a request over HTTP adds (gunicorn, the socket), both sides pay it.
        http = 1000 * (served.web_cpu + served.db_cpu) / len(served.requests) - bare
        print(
            f"  a cycle: {statements} statements in {transactions} transactions; the API baseline plus "
            f"their fixed cost alone: {bound:.2f} ms, {bound / bare:.1f} x the baseline's {bare:.2f} ms "
            f"(ratio at most {bare / bound:.2f}); the cycle: {cycle:.2f} ms (ratio {bare / cycle:.2f})"
        )
        print(
            f"  with gunicorn's {http:.2f} ms per request on both sides (the baseline over HTTP at "
            f"{levels[0]} annotators less in-process): ratio at most {(bare + http) / (bound + http):.2f}"
        )
        # Any design at all: one request that costs what the bare view costs, plus the database's own
        # work for the cycle (its backend CPU less the fixed cost of each statement and transaction,
        # which one call doing everything would not pay).
        work = costs["cycle"][1] - statements * costs["statement"][1] - transactions * costs["transaction"][1]
        print(
            f"  the database's own work for a cycle: {work:.2f} ms; a cycle that cost the bare request "
            f"plus that and nothing else: ratio at most {bare / (bare + work):.2f} in-process, "
            f"{(bare + http) / (bare + http + work):.2f} over HTTP"
        )
        if "floor" in costs:
            floor_cost = sum(costs["floor"])
            print(
                f"  the floor (the cycle's database effects by a plain view in two statements): "
                f"{floor_cost:.2f} ms, ratio {bare / floor_cost:.2f} in-process, "
                f"{(bare + http) / (floor_cost + http):.2f} with gunicorn's cost"
            )
    finally:
        if server is not None:
            stop(server)
        if not args.py_spy:  # the profile stays for reading; the access log goes
            shutil.rmtree(scratch, ignore_errors=True)
        from django.db import connections

        connections.close_all()
        if not args.keep:
            with psycopg.connect(base, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{args.database}"')


if __name__ == "__main__":
    main()
