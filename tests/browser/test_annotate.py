"""The annotate page in real headless Chromium: keyboard-only pairs, ranking by keys and by drag,
ratings, flags, skip, demonstration, editing, XSS payloads; screenshots go to test-artifacts/."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from annotation.models import Assignment, Candidate, Demonstration, Judgment, Membership, Project
from tests.browser.conftest import wait_for_script
from tests.factories import MembershipFactory, ProjectFactory, UserFactory, make_comparison

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
DESKTOP = {"width": 1280, "height": 900}
NARROW = {"width": 390, "height": 844}


@pytest.fixture
def page(browser, live_server) -> Iterator:
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def _login(page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "password")
    page.press("#id_password", "Enter")
    page.wait_for_url(f"{live_server.url}/")


def _annotator(project: Project, username: str = "bob"):
    user = UserFactory(username=username)
    MembershipFactory(project=project, user=user, role=Membership.Role.ANNOTATOR)
    return user


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _wait_for_item(page, previous: str | None) -> str:
    """Wait until the page shows an item other than `previous`; returns its first candidate id."""
    wait_for_script(
        page,
        "prev => { const c = document.querySelector('#candidates .candidate');"
        " return !document.querySelector('#item').hidden && c && c.dataset.id !== prev; }",
        arg=previous or "",
    )
    return page.locator("#candidates .candidate").first.get_attribute("data-id")


def _shown(page) -> list[int]:
    return [
        int(i) for i in page.locator("#candidates .candidate").evaluate_all("cs => cs.map(c => c.dataset.id)")
    ]


def test_pairwise_by_keyboard_only_then_edit(page, live_server) -> None:
    project = ProjectFactory(
        slug="pairs",
        rating_criteria=["helpfulness", "honesty"],
        asks_demonstrations=True,
        guidelines="Prefer **correct** answers.",
    )
    first = make_comparison(project=project)
    prompt = first.prompt
    prompt.messages = [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Show a table and code"},
        {"role": "assistant", "content": "Which language?"},
        {"role": "user", "content": "Python, with a table:\n\n| a | b |\n|---|---|\n| 1 | 2 |"},
    ]
    prompt.save()
    for slot, text in zip(
        first.slots.all(),
        ["```python\nprint('hi')\n```\nThe quick brown fox", "The quick red fox"],
        strict=True,
    ):
        type(slot.candidate).objects.filter(pk=slot.candidate_id).update(text=text)
    make_comparison(project=project)
    make_comparison(project=project)
    bob = _annotator(project)
    _login(page, live_server, "bob")
    page.goto(f"{live_server.url}/projects/pairs/annotate/")

    current = _wait_for_item(page, None)
    assert page.locator(".msg.system").count() == 1 and page.locator(".msg table").count() == 1
    shown = _shown(page)
    page.keyboard.press("d")  # word diff on: "red" differs from "brown"
    assert page.locator("#candidates mark").count() >= 1
    page.keyboard.press("d")
    assert page.locator("#candidates .highlight").count() + page.locator("#candidates pre").count() >= 1
    assert page.locator("#progress-text").inner_text() == "0 today · 0 done · 3 left"
    cards = page.locator("#candidates .candidate")
    assert cards.nth(0).bounding_box()["y"] == cards.nth(1).bounding_box()["y"]  # side by side
    _shot(page, "pairwise-desktop")
    page.set_viewport_size(NARROW)
    first_box = cards.nth(0).bounding_box()
    assert cards.nth(1).bounding_box()["y"] >= first_box["y"] + first_box["height"]  # stacked
    _shot(page, "pairwise-narrow")
    page.set_viewport_size(DESKTOP)

    page.keyboard.press("?")
    assert page.locator("#keymap").is_visible()
    page.keyboard.press("?")
    page.keyboard.press("2")  # B is better
    page.keyboard.press("x")  # clearly
    page.keyboard.press("u")  # flag unsafe
    page.keyboard.press("g")  # first rating: helpfulness of A
    page.keyboard.press("5")
    page.keyboard.press("Escape")
    page.keyboard.press("r")
    page.keyboard.type("B is accurate")
    page.keyboard.press("Escape")
    page.keyboard.press("w")  # demonstration, prefilled with B
    b_text = Candidate.objects.get(pk=shown[1]).text
    assert page.locator("#demonstration").input_value() == b_text
    page.keyboard.press("Control+End")
    page.keyboard.type(" jumps.")
    page.keyboard.press("Escape")
    page.keyboard.press("Enter")

    current = _wait_for_item(page, current)
    assert page.locator("#progress-text").inner_text() == "1 today · 1 done · 2 left"
    page.keyboard.press("s")
    page.keyboard.press("Enter")  # skip with the first reason offered
    current = _wait_for_item(page, current)
    third = _shown(page)
    page.keyboard.press("t")
    page.keyboard.press("n")  # unsure
    page.keyboard.press("Enter")
    page.locator("#empty").wait_for(state="visible")
    assert "Nothing left" in page.locator("#empty").inner_text()

    judgments = {j.comparison_id: j for j in Judgment.objects.filter(annotator=bob)}
    assert len(judgments) == 2
    one = judgments[first.pk]
    assert one.ordering == [[shown[1]], [shown[0]]]
    assert (one.strength, one.flags, one.rationale) == ("clearly", ["unsafe"], "B is accurate")
    assert one.ratings == {str(shown[0]): {"helpfulness": 5}}
    assert one.presented_order == shown and one.time_spent_ms > 0
    tie = next(j for j in judgments.values() if j.pk != one.pk)
    assert tie.ordering == [third] and tie.flags == ["unsure"]
    skipped = Assignment.objects.get(annotator=bob, status=Assignment.Status.SKIPPED)
    assert skipped.skip_reason == "I lack the expertise"
    demo = Demonstration.objects.get()
    assert (demo.text, demo.based_on_id, demo.annotator) == (b_text + " jumps.", shown[1], bob)

    # Edit the first judgment from the history, by keyboard: now A is better, no strength.
    page.goto(f"{live_server.url}/projects/pairs/history/")
    page.locator(f"tr[data-judgment='{one.pk}'] a.edit").click()
    _wait_for_item(page, None)
    assert page.locator("[data-choice=b]").get_attribute("aria-pressed") == "true"
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/projects/pairs/history/")
    one.refresh_from_db()
    assert one.ordering == [[shown[0]], [shown[1]]] and one.strength == ""
    assert Judgment.objects.count() == 2


def test_ranking_by_keys_and_by_drag(page, live_server) -> None:
    project = ProjectFactory(
        slug="ranks", mode="ranking", candidates_per_comparison=4, hides_model_names=False
    )
    make_comparison(project=project, candidates=4)
    make_comparison(project=project, candidates=4)
    bob = _annotator(project)
    _login(page, live_server, "bob")
    page.goto(f"{live_server.url}/projects/ranks/annotate/")

    current = _wait_for_item(page, None)
    assert page.locator(".candidate .model").count() == 4
    by_keys = _shown(page)
    for key in ["3", "1", "=", "4", "2"]:
        page.keyboard.press(key)
    tiers = page.locator("#ranking li").evaluate_all(
        "rows => rows.map(r => [...r.querySelectorAll('.chip')].map(c => c.textContent))"
    )
    assert tiers == [["Candidate 3"], ["Candidate 1", "Candidate 4"], ["Candidate 2"]]
    page.keyboard.press("Backspace")
    assert page.locator("#unranked .chip").count() == 1
    page.keyboard.press("2")
    _shot(page, "ranking-desktop")
    page.set_viewport_size(NARROW)
    _shot(page, "ranking-narrow")
    page.set_viewport_size(DESKTOP)
    page.keyboard.press("Enter")

    _wait_for_item(page, current)
    by_drag = _shown(page)
    # Drag candidates 2, 4, 1 into the order (each lands last), then 3 above candidate 2 at the top.
    ranking = page.locator("#ranking")
    for label in ["2", "4", "1"]:
        bottom = {"x": 10, "y": ranking.bounding_box()["height"] - 4}  # the free space under the rows
        page.locator(f"#unranked .chip:text-is('Candidate {label}')").drag_to(ranking, target_position=bottom)
    page.locator("#unranked .chip:text-is('Candidate 3')").drag_to(page.locator("#ranking li").first)
    assert page.locator("#ranking .chip").all_inner_texts() == [
        "Candidate 3",
        "Candidate 2",
        "Candidate 4",
        "Candidate 1",
    ]
    # Dropped onto another candidate, candidate 1 ties with candidate 4.
    page.locator("#ranking .chip:text-is('Candidate 1')").drag_to(
        page.locator("#ranking .chip:text-is('Candidate 4')")
    )
    assert page.locator("#ranking li").count() == 3
    page.locator("#submit").click()
    page.locator("#empty").wait_for(state="visible")

    orderings = {tuple(j.presented_order): j.ordering for j in Judgment.objects.filter(annotator=bob)}
    assert orderings[tuple(by_keys)] == [[by_keys[2]], [by_keys[0], by_keys[3]], [by_keys[1]]]
    assert orderings[tuple(by_drag)] == [[by_drag[2]], [by_drag[1]], [by_drag[3], by_drag[0]]]


XSS = [
    "<script>window.__xss = 1</script>",
    '<img src=x onerror="window.__xss = 2">',
    "[click me](javascript:window.__xss=3)",
    "<style>body { display: none }</style>",
    '<iframe src="https://example.com/"></iframe>',
    "![tracker](https://tracker.example/pixel.png)",
    '<svg onload="window.__xss = 4"></svg>',
    '<a href="https://ok.example" onmouseover="window.__xss = 5">hover</a>',
]


def test_untrusted_completions_render_inert(page, live_server) -> None:
    project = ProjectFactory(slug="xss", mode="ranking", candidates_per_comparison=4)
    comparison = make_comparison(project=project, candidates=4)
    texts = [" ".join(XSS[i::4]) for i in range(4)]
    for slot, text in zip(comparison.slots.all(), texts, strict=True):
        type(slot.candidate).objects.filter(pk=slot.candidate_id).update(text=text)
    prompt = comparison.prompt
    prompt.messages = [{"role": "user", "content": "<script>window.__xss = 9</script> hi"}]
    prompt.save()
    _annotator(project)
    dialogs: list[str] = []
    outside: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.on(
        "request",
        lambda request: None if request.url.startswith(live_server.url) else outside.append(request.url),
    )
    _login(page, live_server, "bob")
    page.goto(f"{live_server.url}/projects/xss/annotate/")
    _wait_for_item(page, None)
    for candidate in page.locator(".candidate a").all():
        candidate.hover()
    page.keyboard.press("d")  # the diff view shows raw text: it must stay text too
    page.keyboard.press("d")
    page.wait_for_timeout(300)
    assert page.evaluate("window.__xss") is None
    untrusted = ", ".join(
        f"{area} {tag}"
        for area in ("#messages", "#candidates")
        for tag in ("script", "iframe", "img", "svg", "style")
    )
    assert page.locator(untrusted).count() == 0
    assert page.locator("body").is_visible()
    assert "window.__xss = 1" in page.locator("#candidates").inner_text()
    assert dialogs == [] and outside == []


def test_expired_lease_is_explained_and_double_submit_records_once(page, live_server) -> None:
    project = ProjectFactory(slug="late")
    make_comparison(project=project)
    make_comparison(project=project)
    bob = _annotator(project)
    _login(page, live_server, "bob")
    page.goto(f"{live_server.url}/projects/late/annotate/")
    current = _wait_for_item(page, None)
    Assignment.objects.filter(annotator=bob).update(expires_at=timezone.now() - timedelta(seconds=1))
    page.keyboard.press("1")
    page.keyboard.press("r")
    page.keyboard.type("A explains the cause")
    page.keyboard.press("Control+Enter")
    current = _wait_for_item(page, current)
    assert "ran out" in page.locator("#notice").inner_text()
    assert "A explains the cause" in page.locator("#notice .kept").inner_text()
    assert not Judgment.objects.exists()
    active = Assignment.objects.filter(annotator=bob, status=Assignment.Status.ACTIVE)
    assert active.filter(expires_at__gt=timezone.now()).count() == 1
    page.keyboard.press("2")
    page.keyboard.press("Enter")
    page.keyboard.press("Enter")
    page.locator("#empty").wait_for(state="visible")
    assert Judgment.objects.filter(annotator=bob).count() == 1


def test_a_long_queue_shows_at_least_how_many_are_left(page, live_server, monkeypatch) -> None:
    monkeypatch.setattr("annotation.selectors.annotating.REMAINING_COUNT_MAX", 2)
    project = ProjectFactory(slug="long")
    for _ in range(4):
        make_comparison(project=project)
    _annotator(project)
    _login(page, live_server, "bob")
    assert page.locator("[data-project=long] .remaining").inner_text() == "2+"
    page.goto(f"{live_server.url}/projects/long/annotate/")
    _wait_for_item(page, None)
    assert page.locator("#progress-text").inner_text() == "0 today · 0 done · 2+ left"
    assert page.locator(".progress").get_attribute("aria-valuenow") == "0"
