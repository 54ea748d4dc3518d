"""The browser tests (real headless Chromium, see `browser` in tests/conftest.py), all in this folder
and all marked `browser`, so the fast set leaves them out with -m "not browser"."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from tests.training.conftest import data_dir  # noqa: F401 - the fixture
from tests.waiting import wait_until


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.browser)


def wait_for_script(page, expression: str, arg: object = None) -> None:
    """Waits until `expression` (a JS expression, or a function of `arg`) is true in the page.

    Playwright's wait_for_function evaluates its predicate with eval inside the page, which the
    Content-Security-Policy refuses (script-src 'self', no 'unsafe-eval'); page.evaluate goes through
    DevTools, which the policy does not govern, so this polls that instead."""
    wait_until(lambda: page.evaluate(expression, arg), what=f"{expression} in {page.url}")


@pytest.fixture
def browser_page(browser, live_server, alice) -> Iterator:
    """A page signed in as alice (admin of project A)."""
    client = Client()
    client.force_login(alice)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    context = browser.new_context()
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}])
    yield context.new_page()
    context.close()
