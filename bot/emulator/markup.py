"""Telegram message formatting for the emulator: HTML parse_mode → plain text + entities.

Telegram never stores markup: it parses ``parse_mode="HTML"`` into plain text plus a list of
``MessageEntity`` dicts whose ``offset``/``length`` count UTF-16 code units. The emulator does the
same so that bots see exactly what they would see in production, and so that markup mistakes
(unknown tags, unbalanced tags) fail here with Telegram's wording instead of in production.

The reverse direction (:func:`entities_to_html`) is used by the sandbox page and by tests that
want to look at formatting.
"""

from __future__ import annotations

import html
import re
from typing import Any

__all__ = [
    "MarkupError",
    "entities_to_html",
    "normalize_entities",
    "parse_text",
    "trim",
    "utf16_len",
]


class MarkupError(ValueError):
    """Raised for invalid markup; ``str(err)`` is the text after "Bad Request: "."""


# Tag name → entity type, as documented at https://core.telegram.org/bots/api#html-style
_SIMPLE_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "code": "code",
    "pre": "pre",
    "tg-spoiler": "spoiler",
    "blockquote": "blockquote",
}
_ALL_TAGS = {*_SIMPLE_TAGS, "a", "span", "tg-emoji"}

_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ENTITY_RE = re.compile(r"&(#[xX][0-9a-fA-F]{1,8}|#[0-9]{1,10}|[a-zA-Z]{1,10});")
_ATTR_RE = re.compile(
    r"""\s*([a-zA-Z][a-zA-Z0-9_-]*)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+)))?"""
)

# Entity types the sandbox can render, and their HTML form (used by entities_to_html).
_HTML_OPEN = {
    "bold": "<b>",
    "italic": "<i>",
    "underline": "<u>",
    "strikethrough": "<s>",
    "code": "<code>",
    "pre": "<pre>",
    "spoiler": '<span class="tg-spoiler">',
    "blockquote": "<blockquote>",
    "expandable_blockquote": "<blockquote expandable>",
}
_HTML_CLOSE = {
    "bold": "</b>",
    "italic": "</i>",
    "underline": "</u>",
    "strikethrough": "</s>",
    "code": "</code>",
    "pre": "</pre>",
    "spoiler": "</span>",
    "blockquote": "</blockquote>",
    "expandable_blockquote": "</blockquote>",
    "text_link": "</a>",
}


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units, the unit Telegram uses for offsets and limits."""
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(src: str, index: int) -> int:
    # Telegram reports HTML errors at UTF-8 byte offsets into the original string.
    return len(src[:index].encode("utf-8"))


def parse_html(src: str) -> tuple[str, list[dict[str, Any]]]:
    """Parse Telegram-flavoured HTML into ``(text, entities)``; raises :class:`MarkupError`."""
    out: list[str] = []
    pos16 = 0  # current UTF-16 offset in the output text
    # Open tags: (tag name, entity dict being built, start offset)
    stack: list[tuple[str, dict[str, Any] | None, int]] = []
    entities: list[dict[str, Any]] = []
    i, n = 0, len(src)

    def emit(s: str) -> None:
        nonlocal pos16
        out.append(s)
        pos16 += utf16_len(s)

    while i < n:
        c = src[i]
        if c == "&":
            m = _ENTITY_RE.match(src, i)
            decoded = None
            if m:
                name = m.group(1)
                if name.startswith(("#x", "#X")):
                    decoded = _codepoint(int(name[2:], 16))
                elif name.startswith("#"):
                    decoded = _codepoint(int(name[1:]))
                else:
                    decoded = _NAMED_ENTITIES.get(name)
            if decoded is None:
                # Like Telegram, an unknown entity is kept as literal text.
                emit("&")
                i += 1
            else:
                emit(decoded)
                i = m.end() if m else i + 1
            continue
        if c != "<":
            j = i + 1
            while j < n and src[j] not in "<&":
                j += 1
            emit(src[i:j])
            i = j
            continue

        tag_start = i
        if src.startswith("</", i):
            close = src.find(">", i)
            if close == -1:
                raise MarkupError(
                    "can't parse entities: Unclosed end tag at byte offset "
                    f"{_byte_offset(src, tag_start)}"
                )
            name = src[i + 2 : close].strip().lower()
            if not stack:
                raise MarkupError(
                    "can't parse entities: Unexpected end tag at byte offset "
                    f"{_byte_offset(src, tag_start)}"
                )
            open_name, entity, start = stack.pop()
            if name != open_name:
                raise MarkupError(
                    "can't parse entities: Unmatched end tag at byte offset "
                    f'{_byte_offset(src, tag_start)}, expected "</{open_name}>", found "</{name}>"'
                )
            if entity is not None:
                if open_name == "code" and stack and stack[-1][0] == "pre":
                    # <pre><code class="language-x"> is one pre entity with a language.
                    language = entity.pop("_language", None)
                    parent = stack[-1][1]
                    if language and parent is not None:
                        parent["language"] = language
                        entity = None
                if entity is not None:
                    entity.pop("_language", None)
                    if pos16 > start:  # Telegram drops empty entities
                        entity["offset"] = start
                        entity["length"] = pos16 - start
                        entities.append(entity)
            i = close + 1
            continue

        # Start tag.
        j = i + 1
        while j < n and (src[j].isalnum() or src[j] == "-"):
            j += 1
        name = src[i + 1 : j].lower()
        if name not in _ALL_TAGS:
            shown = src[i + 1 : j] or src[i + 1 : i + 2]
            raise MarkupError(
                f'can\'t parse entities: Unsupported start tag "{shown}" at byte offset '
                f"{_byte_offset(src, tag_start)}"
            )
        close = src.find(">", j)
        if close == -1:
            raise MarkupError(
                "can't parse entities: Unclosed start tag at byte offset "
                f"{_byte_offset(src, tag_start)}"
            )
        attrs: dict[str, str] = {}
        raw_attrs = src[j:close].rstrip("/")
        for m in _ATTR_RE.finditer(raw_attrs):
            value = next((g for g in m.group(2, 3, 4) if g is not None), "")
            attrs[m.group(1).lower()] = html.unescape(value)
        entity = _entity_for(name, attrs, src, tag_start)
        stack.append((name, entity, pos16))
        i = close + 1

    if stack:
        raise MarkupError(
            "can't parse entities: Can't find end tag corresponding to start tag "
            f'"{stack[-1][0]}"'
        )
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def _codepoint(value: int) -> str | None:
    try:
        return chr(value) if value > 0 else None
    except (ValueError, OverflowError):
        return None


def _entity_for(name: str, attrs: dict[str, str], src: str, at: int) -> dict[str, Any] | None:
    if name in _SIMPLE_TAGS:
        kind = _SIMPLE_TAGS[name]
        if kind == "blockquote" and "expandable" in attrs:
            kind = "expandable_blockquote"
        entity: dict[str, Any] = {"type": kind}
        if name == "code":
            cls = attrs.get("class", "")
            if cls.startswith("language-"):
                entity["_language"] = cls[len("language-") :]
        return entity
    if name == "a":
        href = attrs.get("href")
        if not href:
            return None
        return {"type": "text_link", "url": href}
    if name == "span":
        if attrs.get("class") != "tg-spoiler":
            raise MarkupError(
                'can\'t parse entities: Tag "span" must have class "tg-spoiler" at byte offset '
                f"{_byte_offset(src, at)}"
            )
        return {"type": "spoiler"}
    # tg-emoji
    emoji_id = attrs.get("emoji-id")
    if not emoji_id:
        raise MarkupError(
            'can\'t parse entities: Tag "tg-emoji" must have attribute "emoji-id" at byte offset '
            f"{_byte_offset(src, at)}"
        )
    return {"type": "custom_emoji", "custom_emoji_id": emoji_id}


def trim(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Strip leading/trailing whitespace the way Telegram does, clipping entities to fit."""
    stripped_lead = text[: len(text) - len(text.lstrip())]
    body = text.strip()
    shift = utf16_len(stripped_lead)
    total = utf16_len(body)
    result = []
    for e in entities:
        start = max(e["offset"] - shift, 0)
        end = min(e["offset"] + e["length"] - shift, total)
        if end > start:
            result.append({**e, "offset": start, "length": end - start})
    return body, result


def normalize_entities(text: str, entities: Any) -> list[dict[str, Any]]:
    """Validate explicitly passed ``entities``/``caption_entities`` against ``text``."""
    if not isinstance(entities, list):
        raise MarkupError("can't parse entities: entities must be an array")
    total = utf16_len(text)
    result = []
    for e in entities:
        if not isinstance(e, dict) or not isinstance(e.get("type"), str):
            raise MarkupError("can't parse entities: entity must be an object with a type")
        try:
            offset, length = int(e["offset"]), int(e["length"])
        except (KeyError, TypeError, ValueError) as exc:
            raise MarkupError("can't parse entities: entity offset/length missing") from exc
        if offset < 0 or length <= 0 or offset + length > total:
            continue  # Telegram silently drops entities outside the text
        result.append({**e, "offset": offset, "length": length})
    result.sort(key=lambda e: (e["offset"], -e["length"]))
    return result


def parse_text(
    text: str, parse_mode: str | None, entities: Any = None
) -> tuple[str, list[dict[str, Any]]]:
    """Turn a Bot API ``text``/``caption`` + ``parse_mode`` into Telegram's stored form.

    Returns trimmed plain text and its entities. Raises :class:`MarkupError` for bad markup or for
    parse modes the emulator does not implement.
    """
    mode = (parse_mode or "").strip()
    if mode == "" or mode.lower() == "none":
        parsed = normalize_entities(text, entities) if entities else []
        return trim(text, parsed)
    if mode.lower() == "html":
        return trim(*parse_html(text))
    if mode.lower() in {"markdown", "markdownv2"}:
        raise MarkupError(
            f"unsupported parse_mode {mode!r}: Markdown is not supported by this emulator, use HTML"
        )
    raise MarkupError(f"unsupported parse_mode {mode!r}")


def _utf16_to_index(text: str) -> list[int]:
    # Map each UTF-16 offset (0..len16) to a Python string index.
    mapping = []
    for idx, ch in enumerate(text):
        mapping.append(idx)
        if ord(ch) > 0xFFFF:
            mapping.append(idx)  # the low surrogate points into the same character
    mapping.append(len(text))
    return mapping


def entities_to_html(text: str, entities: list[dict[str, Any]] | None) -> str:
    """Render plain text + entities back to (safe, escaped) HTML for display."""
    if not entities:
        return html.escape(text, quote=False)
    to_index = _utf16_to_index(text)
    opens: dict[int, list[tuple[int, str]]] = {}
    closes: dict[int, list[tuple[int, str]]] = {}
    for order, e in enumerate(entities):
        kind = e.get("type")
        if kind == "text_link":
            tag_open = f'<a href="{html.escape(str(e.get("url", "")), quote=True)}">'
        elif kind in _HTML_OPEN:
            tag_open = _HTML_OPEN[kind]
            if kind == "pre" and e.get("language"):
                lang = html.escape(str(e["language"]), quote=True)
                tag_open = f'<pre><code class="language-{lang}">'
        else:
            continue
        tag_close = _HTML_CLOSE[kind]
        if kind == "pre" and e.get("language"):
            tag_close = "</code></pre>"
        start = e["offset"]
        end = min(e["offset"] + e["length"], len(to_index) - 1)
        opens.setdefault(to_index[start], []).append((order, tag_open))
        closes.setdefault(to_index[end], []).append((order, tag_close))
    parts = []
    for idx in range(len(text) + 1):
        # Close inner (later-opened) tags first so the output stays well nested.
        for _, tag in sorted(closes.get(idx, []), reverse=True):
            parts.append(tag)
        for _, tag in sorted(opens.get(idx, [])):
            parts.append(tag)
        if idx < len(text):
            parts.append(html.escape(text[idx], quote=False))
    return "".join(parts)
