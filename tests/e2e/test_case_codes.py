"""Case codes end to end (issue 15): a tip with an old five-character code and one with a
longer code answer /status and /tip, typed loosely, and a coordinator's reply to the long

one's card is understood."""

from __future__ import annotations

import pytest

from storage import tip_lifecycle
from storage.models import Role
from storage.users import Contact
from tests.conftest import Harness, card_for
from tests.e2e import test_tips
from tests.e2e.test_tips import enter_resident, file_tip

pytestmark = pytest.mark.both_backends  # and once on PostgreSQL


def loosely(code: str) -> str:
    """'TB-7K3Q9XW' → '7k3 q9x w': no prefix, lower case, spaces."""
    body = code.removeprefix("TB-").lower()
    return " ".join(body[i:i + 3] for i in range(0, len(body), 3))


async def test_old_and_long_codes_answer_status_and_tip(harness: Harness, monkeypatch):
    # file_tip reads the code from the receipt with this pattern: any length here.
    monkeypatch.setattr(test_tips, "CODE", tip_lifecycle.code_pattern())
    await harness.load_units()
    minh = await harness.enter_as(2002, "Minh", Role.COORDINATOR, "TANHOA")
    await harness.services.users.set_contact(2002, Contact(2002, "Cán bộ Minh"))
    minh.skip_messages()
    thuy, _ = await enter_resident(harness)
    short = await file_tip(thuy)
    cards = {short: await card_for(minh, short)}
    # As if the table had outgrown six characters: the next code is drawn with seven.
    monkeypatch.setattr(tip_lifecycle, "start_length", lambda stored: 7)
    long = await file_tip(thuy, category="Cờ bạc")
    cards[long] = await card_for(minh, long)
    assert len(short) == 3 + 5 and len(long) == 3 + 7

    for code, card in cards.items():
        for typed in (code, code.lower(), loosely(code)):
            thuy.send(f"/status {typed}")
            status = await thuy.next_message()
            assert code in status.text and "Mới" in status.text, (typed, status.text)
        minh.send(f"/tip {loosely(code)}")
        again = await minh.next_message()
        assert code in again.text and again.buttons
        minh.send("Đã cử người đến xác minh", reply_to=card)  # found by its code in the card
        choice = await minh.next_message()
        assert code in choice.text and "ghi chú" in " ".join(choice.button_texts)
        minh.press(choice, "🗒 Lưu làm ghi chú nội bộ")
        assert "Đã ghi chú" in (await minh.next_message()).text

    stranger = await harness.enter(3888001, "Tò Mò")
    stranger.send(f"/status {long}")
    assert "Không tìm thấy" in (await stranger.next_message()).text  # not theirs
