"""Login limits and API throttles count across web processes: two gunicorn processes share Redis.

Each process alone would let a limit of N through N times (the counters were per process before:
3 gunicorn workers refused the first login at attempt 26 with a limit of 10), so these alternate
between the two and expect the limit to hold for the sum.
"""

from __future__ import annotations

import http.client
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
import redis
from rest_framework.authtoken.models import Token

from tests.conftest import ROOT, _database_url, free_port, shared_cache_url
from tests.factories import UserFactory
from tests.waiting import wait_until

pytestmark = pytest.mark.integration

LIMIT = 4
# Any 32 letters make a CSRF token that Django accepts when the cookie and the form carry the same.
CSRF = "a" * 32


class Server:
    """One gunicorn process with one worker, so that a port names one process."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.log = log
        with open(log, "wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "rankwise.wsgi", "--bind", f"127.0.0.1:{self.port}",
                 "--workers", "1"],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip

    def request(self, method: str, path: str, body: str = "", headers: dict[str, str] | None = None) -> int:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            response.read()
            return response.status
        finally:
            connection.close()

    def answers(self) -> bool:
        assert self.process.poll() is None, self.log.read_text()
        try:
            return self.request("GET", "/login/") == 200
        except OSError:
            return False

    def sign_in(self, username: str, password: str) -> int:
        body = urlencode({"username": username, "password": password, "csrfmiddlewaretoken": CSRF})
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": f"csrftoken={CSRF}"}
        return self.request("POST", "/login/", body, headers)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()


@pytest.fixture
def cache_url() -> str:
    return shared_cache_url()


@pytest.fixture
def key_prefix(cache_url: str) -> Iterator[str]:
    """This test's own keys in the shared Redis database, deleted afterwards."""
    prefix = f"test-shared-limits-{secrets.token_hex(4)}"
    yield prefix
    client = redis.Redis.from_url(cache_url)
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)


@pytest.fixture
def servers(
    transactional_db: None, cache_url: str, key_prefix: str, tmp_path: Path
) -> Iterator[list[Server]]:
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "RANKWISE_CACHE_URL": cache_url,
        "RANKWISE_CACHE_KEY_PREFIX": key_prefix,
        "RANKWISE_LOGIN_ATTEMPTS": str(LIMIT),
        "RANKWISE_THROTTLE_USER": f"{LIMIT}/min",
        "LOG_LEVEL": "WARNING",
    }
    started = [Server(env, tmp_path / f"gunicorn-{n}.log") for n in range(2)]
    try:
        for server in started:
            wait_until(server.answers, what=f"gunicorn on port {server.port} to answer")
        yield started
    finally:
        for server in started:
            server.stop()


def test_login_failures_count_across_processes(
    servers: list[Server], cache_url: str, key_prefix: str
) -> None:
    UserFactory(username="erin", password="right-password")
    first, second = servers
    codes = [(first, second)[n % 2].sign_in("erin", "wrong") for n in range(LIMIT)]
    assert codes == [200] * (LIMIT - 1) + [429], "each process would have counted only half"
    assert first.sign_in("erin", "right-password") == 429
    assert second.sign_in("erin", "right-password") == 429
    assert any(redis.Redis.from_url(cache_url).scan_iter(f"{key_prefix}:*")), "the counters are in Redis"


def test_api_throttle_counts_across_processes(servers: list[Server]) -> None:
    token = Token.objects.create(user=UserFactory(username="erin"))
    headers = {"Authorization": f"Token {token.key}", "Accept": "application/json"}
    first, second = servers
    codes = [
        (first, second)[n % 2].request("GET", "/api/projects/", headers=headers) for n in range(LIMIT + 1)
    ]
    assert codes == [200] * LIMIT + [429]
