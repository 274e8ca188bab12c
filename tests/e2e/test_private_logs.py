"""Nothing about a person reaches the log, even at DEBUG.

The bot runs with the operator's logging (``bot.logs.setup_logging`` at DEBUG, as
``BINHYEN_LOG_LEVEL=DEBUG`` sets it) while a resident with a full name, a username and a
phone number files an anonymous tip with a location, shares their contact, and answers a
coordinator's question. The whole log is then searched for every one of those values, for the
tip's text and the answer, for the coordinator's name and id, and for the token.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest

from bot.logs import OURS, setup_logging
from storage.models import Role
from tests.conftest import SECRET, TOKEN, Harness, card_for, collect
from tests.e2e.test_routing import ask

RESIDENT = {"id": 739154862, "first": "Nguyệt", "last": "Huỳnh Thị", "username": "nguyet_hts_39",
            "phone": "+84912873645"}
COORDINATOR = {"id": 581736294, "first": "Khôi"}
TIP_TEXT = "Người lạ mặt chở hàng cấm vào kho lúc nửa đêm, hẻm Bảy Lượm"
ANSWER = "Khoảng mười người, đi xe tải màu xanh ngọc"
LATITUDE, LONGITUDE = 10.482917, 105.391846


@pytest.fixture
def log_text():
    """The operator's log at DEBUG, captured; logging is put back afterwards."""
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (root.level, list(root.handlers),
             {name: logging.getLogger(name).level for name in logging.root.manager.loggerDict})
    setup_logging("DEBUG", [TOKEN, SECRET], stream=stream)
    try:
        yield stream
    finally:
        for handler in list(root.handlers):
            if handler not in saved[1]:
                root.removeHandler(handler)
        root.setLevel(saved[0])
        for name, level in saved[2].items():
            logging.getLogger(name).setLevel(level)


async def walk_anonymous_tip(harness: Harness, *, photo: bytes | None = None,
                             note: str | None = None) -> str:
    """A resident with a full name, username and phone files an anonymous tip with a
    location (and ``photo``), the coordinator acknowledges it (adds ``note``) and asks a
    question, and the resident answers; the tip's code."""
    await harness.load_units()
    khoi = await harness.enter_as(COORDINATOR["id"], COORDINATOR["first"], Role.COORDINATOR,
                                  "TANHOA")
    khoi.skip_messages()
    user = harness.user(RESIDENT["id"], RESIDENT["first"], last_name=RESIDENT["last"],
                        username=RESIDENT["username"])
    user.send("/start")
    user.press(await user.next_message(), "Tiếng Việt")
    await user.next_message()
    user.send_contact(RESIDENT["phone"])  # a contact outside any flow: answered, not kept
    await collect(user, lambda got: bool(got) and "📝 Gửi tin báo" in got[-1].button_texts)

    user.send("/newtip")
    step1 = await user.next_message()
    user.press(step1, "Trộm cắp")
    await user.next_edit(step1)
    user.send(TIP_TEXT)
    if photo is not None:
        user.send_photo(photo)
        await user.next_message()
    user.press(await user.next_message(), "Tiếp ➡️")
    await user.next_message()
    user.reply_keyboard_press("📍 Gửi vị trí hiện tại", latitude=LATITUDE, longitude=LONGITUDE)
    assert f"{LATITUDE:.5f}" in (await user.next_message()).text
    user.reply_keyboard_press("Tiếp ➡️")
    await user.next_message()
    step = await user.next_message()
    if "xã, phường nào" in step.text:
        user.press(step, "Xã Tân Hòa")
        step = await user.next_edit(step)
    user.press(step, "Hôm nay")
    anon = await user.next_edit(step)
    user.press(anon, "🔒 Gửi ẩn danh")
    review = await user.next_edit(anon)
    user.press(review, "✅ Gửi tin báo")
    receipt = await user.next_edit(review)
    code = receipt.text.split("TB-", 1)[1][:5]
    card = await card_for(khoi, f"TB-{code}")
    khoi.press(card, "✅ Tiếp nhận")
    await user.next_message()
    if note is not None:
        khoi.press(card, "🗒 Ghi chú")
        await khoi.next_message()
        khoi.send(note)
        assert "Đã ghi chú" in (await khoi.next_message()).text
    await ask(khoi, card, "Bao nhiêu người?")
    question = await user.next_message()
    user.press(question, "✍️ Trả lời")
    await user.next_message()
    user.send(ANSWER)
    assert "Đã chuyển câu trả lời" in (await user.next_message()).text
    await khoi.next_message()
    assert ANSWER in (await khoi.next_message()).text
    return f"TB-{code}"


async def test_a_whole_anonymous_tip_at_debug_leaves_no_trace_of_anyone(
    tmp_path: Path, log_text: io.StringIO
) -> None:
    harness = Harness(tmp_path)
    await harness.start()
    try:
        await walk_anonymous_tip(harness)
    finally:
        await harness.stop()
        await harness.server.stop()

    text = log_text.getvalue()
    lines = text.splitlines()
    # The log is the DEBUG one: our packages at DEBUG, the request lines shown, and many lines.
    assert all(logging.getLogger(name).getEffectiveLevel() == logging.DEBUG for name in OURS)
    assert sum("HTTP Request: POST" in line for line in lines) > 50, text[:2000]
    assert any(" telegram.ext." in line for line in lines)  # PTB's own lines are kept
    personal = {
        "resident's Telegram id": str(RESIDENT["id"]),
        "resident's first name": RESIDENT["first"],
        "resident's last name": RESIDENT["last"],
        "resident's username": RESIDENT["username"],
        "resident's phone": RESIDENT["phone"].lstrip("+"),
        "coordinator's Telegram id": str(COORDINATOR["id"]),
        "coordinator's name": COORDINATOR["first"],
        "the tip's text": "hàng cấm",
        "the place": "Bảy Lượm",
        "the latitude": f"{LATITUDE:.4f}",
        "the longitude": f"{LONGITUDE:.4f}",
        "the answer": "xanh ngọc",
        "the question": "Bao nhiêu người",
        "the token": TOKEN.split(":", 1)[1],
    }
    found = {what: [line for line in lines if value in line] for what, value in personal.items()}
    leaks = {what: hits[:2] for what, hits in found.items() if hits}
    print(f"{len(lines)} log lines searched for {len(personal)} values: {len(leaks)} found")
    assert not leaks, leaks
