"""Buttons nobody can forge: every tampered, foreign or junk press is expired, and changes nothing.

A modified Telegram client can put anything in a press's ``callback_data``. The bot signs each
button's data for the person it is sent to (handlers.callbacks). Here a coordinator's real
buttons (a tip card, the completeness and report views) are taken and, for each one: pressed
by a coordinator of another commune with the exact data; pressed with its tag changed, with no
tag, with its id changed under the old tag, and signed by another deployment's key. Junk data
follows, then data signed with the real key (as if the key had leaked) but naming periods and
values no button carries. Every press must be answered, in Vietnamese, and the database must
be exactly as before.
"""

from __future__ import annotations

import re

from handlers.callbacks import SEP, Signer
from storage.models import Role
from tests.conftest import Harness, card_for
from tests.e2e.test_tips import enter_resident, file_tip

INVALID = "Nút này không còn hiệu lực"
# What a press could change; the outbox is counted (its rows change as earlier sends finish).
WATCHED = ("tips", "tip_history", "tip_tags", "tip_cards", "blocked_senders", "memberships",
           "invitations", "reports", "report_values", "report_versions", "report_reopenings",
           "events", "drafts", "audit_log", "users")


def snapshot(harness: Harness) -> dict[str, object]:
    state: dict[str, object] = {t: harness.query(f"SELECT * FROM {t} ORDER BY 1")
                                for t in WATCHED}
    state["active_flows"] = harness.query("SELECT owner_hash, kind FROM active_flows ORDER BY 1")
    state["outbox"] = harness.query("SELECT COUNT(*) FROM outbox")
    return state


def settled(harness: Harness) -> bool:
    return harness.query("SELECT COUNT(*) FROM outbox WHERE status IN ('pending', 'sending')"
                         )[0][0] == 0


def real_buttons(user) -> list[str]:
    return [b["callback_data"] for m in user.messages() for row in m.buttons for b in row
            if "callback_data" in b]


def other_id(payload: str) -> str:
    """The payload with its first number changed (another tip, unit or page)."""
    return re.sub(r"(?<=:)([0-9]+)", lambda m: str(int(m[1]) + 1), payload, count=1)


async def test_forged_tampered_and_foreign_buttons_change_nothing(harness: Harness) -> None:
    await harness.load_units()
    minh = await harness.enter_as(2002, "Minh", Role.COORDINATOR, "TANHOA")
    khoa = await harness.enter_as(2003, "Khoa", Role.COORDINATOR, "KHANHAN")
    thuy, _ = await enter_resident(harness)
    code = await file_tip(thuy)
    card = await card_for(minh, code)
    minh.send("/completeness")
    await minh.wait_until(lambda: any("cmpl:" in d for d in real_buttons(minh)))
    minh.send("/reports 2026-W01 TH-ANPHU")  # a locked week: the view offers to reopen it
    await minh.wait_until(lambda: any(d.startswith("repo:") for d in real_buttons(minh)))
    await harness.emu.wait_until(lambda: settled(harness), 20)

    signed = real_buttons(minh)
    assert signed and all(SEP in d for d in signed)  # every button is signed
    stranger = Signer(b"another deployment's key, not ours")
    minh_id, khoa_id = 2002, 2003
    khoas_message = khoa.messages()[-1]
    tip = await harness.services.tips.by_code(code)
    before = snapshot(harness)

    tries: list[tuple[object, object, str]] = []  # (who, message, data)
    for data in signed:
        payload, _, tag = data.rpartition(SEP)
        flipped = tag[:-1] + ("A" if tag[-1] != "A" else "B")
        tries += [
            (khoa, khoas_message, data),  # someone else's button, data copied exactly
            (minh, card, f"{payload}{SEP}{flipped}"),
            (minh, card, payload),  # unsigned, as buttons were before
            (minh, card, stranger.sign(payload, minh_id)),
        ]
        if other_id(payload) != payload:  # the old tag under another id
            tries.append((minh, card, f"{other_id(payload)}{SEP}{tag}"))
    for junk in ("", SEP, SEP * 9, "x" * 64, "tip:1:st:acknowledged" + SEP, "🙂" * 16,
                 "tip:1:st:acknowledged" + SEP + "AAAAAAAA", "\u200b", "menu", "::::",
                 "<b>x</b>", "'; DROP TABLE tips; --", "tip:" + "9" * 50):
        tries.append((minh, card, junk))
    invalid_count = len(tries)

    # Signed with the real key, as if it had leaked: the handlers' own checks still hold.
    signer = harness.services.buttons
    for payload in ("cmpl:junk", "cmpl:9999-W52", "cmpl:2026-11", "repv:3:9999",
                    "repv:3:2026-11", "repl:2026-Q1:0", "repf:p:6:antt:junk", "repf:p:junk",
                    "repo:3:2020", "repo:3:2026-01", "repo:3:1999-Q1", "repo:999999:2026-W01",
                    f"tip:{tip.id}:st:closed", f"tip:{tip.id}:cl:junk", "tip:999999:st:verifying",
                    f"tip:{tip.id}:as:2003", f"tip:{tip.id}:dup:{tip.id}", "lang:xx",
                    "menu:nope", "ans:1", "answer:pick:1", "offer:yes",
                    "tipf:send", "repf:send", "evf:send", "inv:make:handover", "desk:as:ask"):
        tries.append((minh, card, signer.sign(payload, minh_id)))
    for payload in (f"tip:{tip.id}:st:acknowledged", f"tip:{tip.id}:blk:yes"):
        tries.append((khoa, khoas_message, signer.sign(payload, khoa_id)))  # out of scope

    answers = []
    for who, message, data in tries:
        cq = who.press_forged(message, data)
        answers.append(await who.callback_answer(cq))
    await harness.emu.wait_until(lambda: settled(harness), 20)
    after = snapshot(harness)

    accepted = sum(1 for key in before if before[key] != after[key])
    print(f"{len(tries)} forged or tampered presses ({invalid_count} with bad tags or junk, "
          f"{len(tries) - invalid_count} validly signed but never sent); "
          f"{accepted} tables changed")
    assert before == after, {k: (before[k], after[k]) for k in before if before[k] != after[k]}
    for (_, _, data), answer in zip(tries[:invalid_count], answers, strict=False):
        assert INVALID in (answer.get("text") or ""), (data, answer)
        assert answer.get("show_alert") is True
    for (_, _, data), answer in zip(tries[invalid_count:], answers[invalid_count:], strict=True):
        assert answer.get("text"), (data, answer)  # said why, in words
    assert "Đã tiếp nhận" not in card.text  # the card never moved
    # The real buttons still work.
    minh.press(card, "✅ Tiếp nhận")
    await thuy.wait_until(lambda: any("Đã tiếp nhận" in (m.text or "") for m in thuy.messages()))
