"""PostgreSQL stopped and started again while annotators submit through gunicorn.

The test starts a private PostgreSQL cluster (initdb into a temporary directory, on a free port;
as the postgres user when run as root, which initdb requires), never the shared server. The web
app, served as in production (persistent connections with health checks), must come back by
itself, answer 503 with a clear message (never 500) while the database is gone, and record every
submission exactly once: the simulated annotators retry with the same submission token, as the
annotate page does.
"""

from __future__ import annotations

import glob
import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import ROOT, free_port, shared_cache_url

pytestmark = pytest.mark.integration

ANNOTATORS = 6
# A pause after each cycle: at most ANNOTATORS / THINK_SECONDS = 120 cycles/s, so however fast the
# machine, the 400 × ANNOTATORS items (each annotator may judge every comparison) outlast the test
# and nobody runs out of work before the outage.
THINK_SECONDS = 0.05
SEED = """
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from annotation.models import Membership, Project
from tests.factories import make_comparison
project = Project.objects.create(name="Restart", slug="restart", overlap={annotators})
for _ in range(400):
    make_comparison(project=project)
for i in range({annotators}):
    user = get_user_model().objects.create(username=f"annotator{{i}}")
    Membership.objects.create(project=project, user=user)
    print(Token.objects.create(user=user).key)
"""


@dataclass
class Cluster:
    """A PostgreSQL cluster of this test's own; `as_owner` runs its tools as the postgres user."""

    bin: Path
    data: Path
    port: int
    log: Path

    def _run(self, *args: str) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")

    def stop(self) -> None:
        # fast: connected clients are cut off, as in a crash or failover of the database host.
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/rankwise"


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    binaries = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not binaries:
        pytest.skip("needs PostgreSQL's server binaries (initdb, pg_ctl) under /usr/lib/postgresql")
    if os.geteuid() == 0 and not shutil.which("runuser"):
        pytest.skip("running as root needs runuser to start PostgreSQL as the postgres user")
    root = Path(tempfile.mkdtemp(prefix="rankwise-pg-"))
    cluster = Cluster(
        bin=Path(binaries[-1]).parent, data=root / "data", port=free_port(), log=root / "pg.log"
    )
    cluster.data.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(cluster.data, "postgres")
    try:
        cluster._run(
            "initdb", "-D", str(cluster.data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"
        )
        cluster.start()
        import psycopg

        with psycopg.connect(f"postgres://postgres@127.0.0.1:{cluster.port}/postgres", autocommit=True) as c:
            c.execute("CREATE DATABASE rankwise")
        yield cluster
    finally:
        try:
            cluster.stop()
        except subprocess.CalledProcessError:
            pass  # not running (initdb failed, or the test left it stopped)
        shutil.rmtree(root, ignore_errors=True)


def _env(cluster: Cluster, tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": cluster.url,
        "RANKWISE_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(40),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "RANKWISE_THROTTLE_USER": "100000/min",
        "RANKWISE_DATA_DIR": str(tmp_path / "data"),
        "RANKWISE_STATIC_ROOT": str(tmp_path),
        "CELERY_BROKER_URL": "memory://",
        "RANKWISE_CACHE_URL": shared_cache_url(),
        "RANKWISE_CACHE_KEY_PREFIX": f"test-database-restart-{secrets.token_hex(4)}",
    }


@dataclass
class Annotator:
    """One simulated annotator: next → submit, retrying each request until it gets an answer."""

    token: str
    port: int
    deadline: float
    statuses: Counter = field(default_factory=Counter)
    recorded: dict[str, int] = field(default_factory=dict)  # submission token -> judgment id
    refused: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    successes_at: list[float] = field(default_factory=list)

    def _request(self, path: str, body: dict) -> tuple[int, dict] | None:
        """(status, body) of a final answer; None when the server could not be reached."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
        try:
            connection.request(
                "POST",
                path,
                json.dumps(body),
                {"Authorization": f"Token {self.token}", "Content-Type": "application/json"},
            )
            response = connection.getresponse()
            status, data = response.status, response.read()
        except (OSError, http.client.HTTPException):
            return None
        finally:
            connection.close()
        self.statuses[status] += 1
        if status >= 500 and status != 503:
            self.failures.append(f"{path}: {status} {data[:300]!r}")
        if status == 503:
            message = json.loads(data)["error"]
            assert "cannot reach its database" in message, message
            return None
        return status, json.loads(data)

    def _until_answered(self, path: str, body: dict) -> tuple[int, dict] | None:
        while time.monotonic() < self.deadline + 30:
            answer = self._request(path, body)
            if answer is not None:
                return answer
            time.sleep(0.2)
        self.failures.append(f"{path}: no answer 30 s after the deadline")
        return None

    def run(self) -> None:
        while time.monotonic() < self.deadline:
            answer = self._until_answered("/api/projects/restart/next/", {})
            if answer is None or answer[0] != 200 or answer[1]["item"] is None:
                if answer is not None:
                    self.failures.append(f"next: {answer}" if answer[0] != 200 else "ran out of items")
                return
            item = answer[1]["item"]
            first, second = (c["id"] for c in item["candidates"])
            token = secrets.token_hex(16)
            submission = {
                "assignment": item["assignment"],
                "submission_token": token,
                "ordering": [[first], [second]],
            }
            answer = self._until_answered("/api/projects/restart/submit/", submission)
            if answer is None:
                return
            status, data = answer
            if status == 201:
                self.recorded[token] = data["judgment"]
                self.successes_at.append(time.monotonic())
            elif 400 <= status < 500:
                assert data["error"], data  # clearly refused, with a reason
                self.refused.append(token)
            else:
                self.failures.append(f"submit: {answer}")
            time.sleep(THINK_SECONDS)


def _judgments(cluster: Cluster) -> list[tuple[str, int]]:
    import psycopg

    with psycopg.connect(cluster.url) as connection:
        return connection.execute("SELECT submission_token, id FROM annotation_judgment").fetchall()


def test_annotators_ride_out_a_database_restart(cluster: Cluster, tmp_path: Path) -> None:
    env = _env(cluster, tmp_path)
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "--no-input", "-v", "0"], cwd=ROOT, env=env, check=True, timeout=300)
    seeded = subprocess.run(
        [*manage, "shell", "--no-imports", "-c", SEED.format(annotators=ANNOTATORS)],
        cwd=ROOT, env=env, check=True, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    tokens = seeded.stdout.split()
    assert len(tokens) == ANNOTATORS, seeded.stdout
    port = free_port()
    log = tmp_path / "gunicorn.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "rankwise.wsgi", "--bind", f"127.0.0.1:{port}",
             "--workers", "2", "--worker-class", "gthread", "--threads", "4", "--access-logfile", "-"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        annotators = [Annotator(token=t, port=port, deadline=time.monotonic() + 14) for t in tokens]
        threads = [threading.Thread(target=a.run) for a in annotators]
        for thread in threads:
            thread.start()
        time.sleep(4)
        cluster.stop()
        time.sleep(2)  # a real outage: requests meanwhile must be refused with 503, not 500
        cluster.start()
        back = time.monotonic()
        for thread in threads:
            thread.join(timeout=90)
        assert not any(thread.is_alive() for thread in threads)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)

    failures = [f for a in annotators for f in a.failures]
    assert not failures, failures
    statuses = sum((a.statuses for a in annotators), Counter())
    assert statuses[503] > 0, f"the outage went unnoticed: {statuses}"
    assert set(statuses) <= {200, 201, 503, 409}, statuses
    assert all(any(t > back for t in a.successes_at) for a in annotators), "the app did not recover by itself"
    recorded = {token: judgment for a in annotators for token, judgment in a.recorded.items()}
    stored = _judgments(cluster)
    assert len(stored) == len({token for token, _ in stored}) == len(recorded), (len(stored), len(recorded))
    assert dict(stored) == recorded, "a submission was lost, doubled, or recorded under another id"
    assert b"Traceback" not in log.read_bytes(), log.read_text()[-3000:]
    print(f"\n{len(recorded)} submissions recorded once; answers {dict(statuses)}")
