"""The browser tests (real headless Chromium, see `browser` in tests/conftest.py), all in this folder
and all marked `browser`, so the fast set leaves them out with -m "not browser"."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from tests.training.conftest import data_dir  # noqa: F401 - the fixture


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.browser)


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
