"""Button data: declared shapes, signing bound to the recipient, and nothing that raises."""

from __future__ import annotations

import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, ReplyKeyboardMarkup

from handlers.callbacks import (
    KINDS,
    MAX_BYTES,
    MAX_PAYLOAD,
    SEP,
    Signer,
    data,
    fits,
    has_callbacks,
    parse,
)

KEY = b"unit-test-button-key-0123456789ab"


def test_declared_shapes_build_and_parse_back() -> None:
    for payload in ("tip:12:st:acknowledged", "repv:3:2026-W47", "cmpl:2026-Q4", "tipf:co:none",
                    "tipf:ul:5:0", "desk:cancel:7:ask", "answer:new", "lang:vi"):
        kind, *fields = payload.split(":")
        assert data(kind, *fields) == payload
        press = parse(payload)
        assert press is not None and press.kind == kind and list(press.fields) == fields


@pytest.mark.parametrize("payload", [
    "cmpl:junk", "cmpl:9999-W52", "cmpl:2025-W53", "repv:3:9999", "repf:p:6:antt:junk",
    "repf:p:junk", "tip:1:st", "tip:x:show", "tip:1:show:extra", "tip:1:nope", "nokind:1",
    "tip:١٢:show",  # Arabic-Indic digits are digits to str.isdigit, not to us
    "tip:1234567890123:show", "lang:VI", "lang:" + "w" * 25, "lang:", "", ":", "tip",
    "menu:tip~abc",
])
def test_undeclared_or_malformed_data_is_refused_not_raised(payload: str) -> None:
    assert parse(payload) is None
    kind, *fields = payload.split(":")
    with pytest.raises(ValueError):
        data(kind, *fields)  # and the bot could never have sent it


def test_every_shape_fits_the_limit_at_its_largest() -> None:
    """The largest id, the longest word, the longest period key: still 64 bytes once signed."""
    for kind, shapes in KINDS.items():
        assert shapes, kind
        for shape in shapes:
            largest = (shape.replace("{int}", "9" * 12).replace("{word}", "w" * 24)
                       .replace("{period}", "2026-W47").replace("{span}", "2026-W47"))
            fields = tuple(largest.split(":"))
            assert fits(kind, fields), (kind, shape)
            assert len(data(kind, *fields).encode()) <= MAX_PAYLOAD, (kind, shape)


def test_signature_binds_data_key_and_recipient() -> None:
    signer = Signer(KEY)
    signed = signer.sign("tip:12:st:acknowledged", 2002)
    assert len(signed.encode()) <= MAX_BYTES
    assert signer.open(signed, 2002) == "tip:12:st:acknowledged"
    assert signer.open(signed, 2003) is None  # someone else's button
    assert Signer(b"another deployment's key 0123456").open(signed, 2002) is None
    payload, _, tag = signed.rpartition(SEP)
    assert signer.open(f"tip:13:st:acknowledged{SEP}{tag}", 2002) is None
    assert signer.open(payload, 2002) is None  # unsigned
    for junk in (None, "", SEP, SEP * 70, "x" * 200, f"{payload}{SEP}{tag}{SEP}{tag}"):
        assert signer.open(junk, 2002) is None
    with pytest.raises(ValueError):
        Signer(b"short")


def test_a_longest_payload_still_fits_once_signed() -> None:
    payload = "x" * MAX_PAYLOAD
    assert len(Signer(KEY).sign(payload, 9_999_999_999).encode()) == MAX_BYTES
    with pytest.raises(ValueError):
        data("tip", "1" * 12, "as", "9" * 60)


def test_markup_is_signed_per_recipient_without_changing_the_shared_keyboard() -> None:
    signer = Signer(KEY)
    shared = InlineKeyboardMarkup([[InlineKeyboardButton("A", callback_data="offer:yes"),
                                    InlineKeyboardButton("web", url="https://example.org")]])
    before = shared.to_dict()
    for_lan = signer.markup(shared, 1001).to_dict()
    for_minh = signer.markup(shared, 2002).to_dict()
    assert shared.to_dict() == before  # the cached keyboard is untouched
    lan_data = for_lan["inline_keyboard"][0][0]["callback_data"]
    assert lan_data != for_minh["inline_keyboard"][0][0]["callback_data"]
    assert signer.open(lan_data, 1001) == "offer:yes"
    assert for_lan["inline_keyboard"][0][1] == {"text": "web", "url": "https://example.org"}
    assert has_callbacks(shared) and not has_callbacks(signer.markup(shared, 1001))
    reply = ReplyKeyboardMarkup([["Tiếp ➡️"]])
    assert signer.markup(reply, 1001) is reply and not has_callbacks(reply)
    assert signer.markup(None, 1001) is None


def test_a_press_answer_is_cut_as_telegram_counts_it() -> None:
    """200 UTF-16 units: an emoji counts twice, and none is split in half."""
    from handlers.common import ANSWER_LIMIT, cut_utf16

    assert cut_utf16("a" * 250, ANSWER_LIMIT) == "a" * 200
    assert cut_utf16("😀" * 150, ANSWER_LIMIT) == "😀" * 100
    assert cut_utf16("a" + "😀" * 150, ANSWER_LIMIT) == "a" + "😀" * 99
    assert cut_utf16("Đã tiếp nhận", ANSWER_LIMIT) == "Đã tiếp nhận"
