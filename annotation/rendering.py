"""Markdown to safe HTML for untrusted text (completions, prompts, guidelines).

markdown-it-py renders CommonMark with tables, with raw HTML turned off so that tags in a completion
show as text; Pygments highlights fenced code; nh3 (the Rust ammonia sanitiser) then keeps only an
allow-list of tags, attributes and URL schemes, as a second line of defence. Images are dropped:
loading one would send a request to wherever the completion points.

Prompts and candidates keep what this renders (Prompt.messages_html, Candidate.html; see
annotation.services.prerendering). A change to what it produces for the same text (the allow-list,
the markdown options, a new Pygments) must therefore come with a migration that sets those columns
back to null, so that no page shows HTML the renderer would no longer write;
tests/annotation/test_rendering.py fails on such a change until its digest is updated.
"""

from __future__ import annotations

from functools import lru_cache

import nh3
from markdown_it import MarkdownIt
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

_TAGS = {
    "p",
    "br",
    "hr",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "strong",
    "em",
    "del",
    "s",
    "code",
    "pre",
    "blockquote",
    "ul",
    "ol",
    "li",
    "a",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "span",
}
_ATTRIBUTES = {
    "a": {"href", "title"},
    "code": {"class"},
    "pre": {"class"},
    "span": {"class"},
    "th": {"style"},
    "td": {"style"},
    "ol": {"start"},
}
_FORMATTER = HtmlFormatter(nowrap=True)


def _highlight(code: str, lang: str, _attrs: str) -> str:
    """Highlighted code inside <pre class="highlight">, or "" to let markdown-it escape it plainly."""
    try:
        lexer = get_lexer_by_name(lang) if lang else None
    except ClassNotFound:
        lexer = None
    if lexer is None:
        return ""
    body = highlight(code, lexer, _FORMATTER)
    return f'<pre class="highlight"><code class="language-{lexer.aliases[0]}">{body}</code></pre>'


@lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False, "highlight": _highlight}).enable(
        ["table", "strikethrough"]
    )


def markdown_render(text: str) -> str:
    """Sanitised HTML for markdown text; safe to insert into a page as is."""
    html = _markdown().render(text or "")
    return nh3.clean(
        html,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
        # Only text-align survives on table cells (markdown-it writes it for aligned columns).
        filter_style_properties={"text-align"},
    )


def messages_render(messages: list[dict]) -> list[str]:
    """Each message's content of a conversation as sanitised HTML, in message order."""
    return [markdown_render(str(m.get("content", ""))) for m in messages]


def markdown_stored(html: str | None, text: str) -> str:
    """The HTML stored for a text (annotation.services.prerendering), or the text rendered now where
    none is stored yet."""
    return html if html is not None else markdown_render(text)


def messages_shown(messages: list[dict], html: list[str] | None) -> list[dict[str, str]]:
    """A conversation as the pages show it: each message's role and HTML, the stored HTML of the
    messages or, where none is stored yet, rendered now."""
    html = html if html is not None else messages_render(messages)
    return [{"role": m.get("role", "user"), "html": h} for m, h in zip(messages, html, strict=True)]


def highlight_css() -> str:
    """The stylesheet for highlighted code (written once to static/css/highlight.css)."""
    return _FORMATTER.get_style_defs(".highlight")
