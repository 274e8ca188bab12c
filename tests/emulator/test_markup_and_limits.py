"""Unit tests: HTML parsing into entities, and token-bucket rate limits."""

from __future__ import annotations

import pytest

from bot.emulator.limits import ManualClock, RateLimiter, TokenBucket
from bot.emulator.markup import MarkupError, entities_to_html, parse_text, utf16_len


def test_plain_text_is_trimmed_and_untouched() -> None:
    assert parse_text("  <b>not markup</b> &amp; \n", None) == ("<b>not markup</b> &amp;", [])


def test_html_entities_use_utf16_offsets() -> None:
    text, entities = parse_text("😀 <b>đậm</b> <i>nghiêng</i>", "HTML")
    assert text == "😀 đậm nghiêng"
    # The emoji is 2 UTF-16 code units, so "đậm" starts at 3.
    assert entities == [
        {"type": "bold", "offset": 3, "length": 3},
        {"type": "italic", "offset": 7, "length": 7},
    ]
    assert utf16_len(text) == 14


def test_all_documented_tags() -> None:
    src = (
        '<strong>b</strong><em>i</em><ins>u</ins><del>s</del><a href="https://x.vn/?a=1&amp;b=2">'
        'l</a><code>c</code><pre><code class="language-python">p</code></pre>'
        '<span class="tg-spoiler">x</span><tg-spoiler>y</tg-spoiler>'
        "<blockquote expandable>q</blockquote>"
        '<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>&lt;&gt;&quot;&#65;&#x42;'
    )
    text, entities = parse_text(src, "html")
    assert text == 'biuslcpxyq👍<>"AB'
    kinds = [(e["type"], e["offset"], e["length"]) for e in entities]
    assert kinds == [
        ("bold", 0, 1),
        ("italic", 1, 1),
        ("underline", 2, 1),
        ("strikethrough", 3, 1),
        ("text_link", 4, 1),
        ("code", 5, 1),
        ("pre", 6, 1),
        ("spoiler", 7, 1),
        ("spoiler", 8, 1),
        ("expandable_blockquote", 9, 1),
        ("custom_emoji", 10, 2),
    ]
    assert entities[4]["url"] == "https://x.vn/?a=1&b=2"
    assert entities[6]["language"] == "python"


def test_nested_entities_sorted_outer_first() -> None:
    text, entities = parse_text("<b>a <i>b</i></b>", "HTML")
    assert text == "a b"
    assert entities == [
        {"type": "bold", "offset": 0, "length": 3},
        {"type": "italic", "offset": 2, "length": 1},
    ]


@pytest.mark.parametrize(
    ("src", "message"),
    [
        ("<p>x</p>", 'Unsupported start tag "p" at byte offset 0'),
        ("đ <foo>", 'Unsupported start tag "foo" at byte offset 3'),
        ("<b>x", 'Can\'t find end tag corresponding to start tag "b"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("<b><i>x</b></i>", 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"'),
        ("<b", "Unclosed start tag at byte offset 0"),
        ('<span class="x">y</span>', 'Tag "span" must have class "tg-spoiler"'),
    ],
)
def test_html_errors(src: str, message: str) -> None:
    with pytest.raises(MarkupError) as info:
        parse_text(src, "HTML")
    assert str(info.value).startswith("can't parse entities: ")
    assert message in str(info.value)


def test_unknown_entity_kept_and_markdown_refused() -> None:
    assert parse_text("a &nbsp; b & c", "HTML")[0] == "a &nbsp; b & c"
    with pytest.raises(MarkupError, match="not supported by this emulator"):
        parse_text("*x*", "MarkdownV2")


def test_entities_to_html_roundtrip_escapes() -> None:
    text, entities = parse_text('<b>1 &lt; 2</b> <a href="https://a.vn/?q=&quot;">x</a>', "HTML")
    assert entities_to_html(text, entities) == (
        '<b>1 &lt; 2</b> <a href="https://a.vn/?q=&quot;">x</a>'
    )
    assert entities_to_html("<script>", []) == "&lt;script&gt;"


def test_explicit_entities_validated() -> None:
    _text, entities = parse_text(
        "hello",
        None,
        [{"type": "bold", "offset": 0, "length": 5}, {"type": "italic", "offset": 4, "length": 9}],
    )
    assert entities == [{"type": "bold", "offset": 0, "length": 5}]
    with pytest.raises(MarkupError):
        parse_text("hello", None, "nope")


def test_token_bucket_refills_with_clock() -> None:
    clock = ManualClock()
    bucket = TokenBucket(rate=1.0, burst=3, clock=clock)
    for _ in range(3):
        assert bucket.wait_time() == 0
        bucket.take()
    assert bucket.wait_time() == pytest.approx(1.0)
    clock.advance(0.5)
    assert bucket.wait_time() == pytest.approx(0.5)
    clock.advance(10)
    assert bucket.wait_time() == 0  # refills only up to the burst
    bucket.take(3)
    assert bucket.wait_time() == pytest.approx(1.0)


def test_rate_limiter_all_or_nothing_and_big_groups() -> None:
    clock = ManualClock()
    limiter = RateLimiter(global_rate=30, global_burst=30, chat_rate=1, chat_burst=3, clock=clock)
    assert limiter.acquire(1, 3) == 0
    assert limiter.acquire(1) == 1  # chat bucket empty, retry after 1 s
    # The refusal did not consume global budget: 30 other chats still fit.
    assert all(limiter.acquire(100 + i) == 0 for i in range(27))
    assert limiter.acquire(200) == 1  # global bucket now empty
    clock.advance(5)
    # An album bigger than the chat burst is allowed when the bucket is full, then owes time.
    assert limiter.acquire(2, 10) == 0
    assert limiter.acquire(2) == 8  # 10 taken from 3 → -7, need 1 → 8 s
