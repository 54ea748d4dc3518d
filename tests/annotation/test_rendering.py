"""markdown_render: markdown features annotators need, and untrusted HTML rendered inert."""

from __future__ import annotations

import hashlib
from html.parser import HTMLParser

import pytest

from annotation.rendering import markdown_render

XSS_PAYLOADS = [
    "<script>alert('x')</script>",
    "<img src=x onerror=alert('x')>",
    "[click](javascript:alert('x'))",
    "<a href=\"javascript:alert('x')\">click</a>",
    "<style>body { display: none }</style>",
    '<iframe src="https://example.com"></iframe>',
    "<svg onload=alert('x')></svg>",
    "![pixel](https://tracker.example/p.png)",
    '<div onclick="alert(1)" style="position:fixed">x</div>',
    "[x](JaVaScRiPt:alert(1))",
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "<object data=x></object><embed src=x><form action=x><input></form>",
    "```html\n<script>alert(1)</script>\n```",
    '<a href="https://ok.example" onmouseover="alert(1)">hover</a>',
]


class _Elements(HTMLParser):
    """Every element and attribute the browser would build from the HTML (text stays text)."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attributes: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attributes.extend((name, value or "") for name, value in attrs)


SAFE_TAGS = {"p", "a", "pre", "code", "span", "br"}


@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_untrusted_html_renders_inert(payload: str) -> None:
    html = markdown_render(f"Before\n\n{payload}\n\nAfter")
    elements = _Elements()
    elements.feed(html)
    assert elements.tags <= SAFE_TAGS, html
    for name, value in elements.attributes:
        assert name in {"href", "class", "rel", "title"}, html
        if name == "href":
            assert value.startswith(("http://", "https://", "mailto:")), html
    assert "Before" in html and "After" in html


def test_raw_html_is_shown_as_text() -> None:
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in markdown_render("<script>alert(1)</script>")


def test_tables_render() -> None:
    html = markdown_render("| name | score |\n|:--|--:|\n| a | 1 |")
    assert "<table>" in html and "<th" in html and '<td style="text-align:right">1</td>' in html


def test_code_is_highlighted() -> None:
    html = markdown_render("```python\ndef add(a, b):\n    return a + b\n```")
    assert '<pre class="highlight"><code class="language-python">' in html
    assert '<span class="k">def</span>' in html


def test_code_in_an_unknown_language_is_escaped_plainly() -> None:
    html = markdown_render("```klingon\n<b>x</b>\n```")
    assert "<pre><code" in html and "&lt;b&gt;x&lt;/b&gt;" in html


def test_safe_links_keep_working_without_leaking_the_page() -> None:
    html = markdown_render("[docs](https://docs.python.org/3/)")
    assert 'href="https://docs.python.org/3/"' in html
    assert 'rel="noopener noreferrer nofollow"' in html


def test_emphasis_lists_and_quotes() -> None:
    html = markdown_render("**bold** _it_ ~~gone~~\n\n- one\n- two\n\n> quoted")
    for tag in ("<strong>", "<em>", "<s>", "<ul>", "<li>", "<blockquote>"):
        assert tag in html


# Every feature the renderer handles, once. Prompts and candidates keep their rendered HTML
# (annotation.services.prerendering), so the renderer's output for the same text must not change
# unnoticed: stored rows would keep the old HTML.
STORED_SAMPLE = [
    "# Title\n\nSome *emphasis*, **strong**, ~~struck~~ and `code`.",
    "1. one\n2. two\n\n- a\n- b\n\n> quoted",
    "| a | b |\n| :- | -: |\n| 1 | 2 |",
    "```python\ndef f(x):\n    return x + 1\n```\n\n```nosuchlanguage\nplain\n```",
    "[safe](https://example.com) [unsafe](javascript:alert(1)) ![image](https://example.com/i.png)",
    "<script>alert(1)</script> <b>bold?</b>\n\n---\n\nline  \nbreak",
]
STORED_SAMPLE_SHA256 = "ce38161861d312458ac3360ece859b7614bf8aa76027055e29b17b4d0ce7ee13"


def test_the_renderer_writes_what_stored_rows_hold() -> None:
    """If this fails, the renderer's output changed: add a migration that sets Prompt.messages_html
    and Candidate.html back to null (the background pass renders them again), then put the new
    digest here."""
    digest = hashlib.sha256("\0".join(markdown_render(text) for text in STORED_SAMPLE).encode()).hexdigest()
    assert digest == STORED_SAMPLE_SHA256
