"""Joining through invitation links, the in-chat invitation flow, and restarts."""

from __future__ import annotations

from datetime import timedelta

import pytest

from storage.db import utcnow
from storage.models import Role
from tests.conftest import Harness

pytestmark = pytest.mark.both_backends  # and once on PostgreSQL


async def test_valid_invitation_makes_a_reporter(harness: Harness) -> None:
    await harness.load_units()
    code = await harness.invite("TH-ANPHU", Role.REPORTER)
    bay = harness.user(3001, "Bảy", last_name="Trần Văn")
    bay.send(f"/start {code}")
    prompt = await bay.next_message()  # a new user picks the language first
    bay.press(prompt, "Tiếng Việt")
    welcome = await bay.next_message()
    assert "Bạn đã tham gia với vai trò <b>người báo cáo</b>" in welcome.html
    assert "Ấp An Phú, Xã Tân Hòa" in welcome.text
    menu = await bay.next_message()
    assert "người báo cáo" in menu.text and "113" in menu.text

    user = await harness.services.users.get(3001)
    assert user is not None and user.role() is Role.REPORTER
    contact = await harness.services.users.contact(user.id)
    assert contact.name == "Trần Văn Bảy"  # staff go by their name, family name first
    audit = await harness.services.audit.for_subject(f"user:{user.id}")
    assert [e.action for e in audit] == ["membership.start"]


async def test_refusals_expired_used_up_made_up(harness: Harness) -> None:
    await harness.load_units()
    expired = await harness.invite(
        "TH-ANPHU", Role.REPORTER, now=utcnow() - timedelta(days=8), ttl=timedelta(days=7)
    )
    single = await harness.invite("TH-ANPHU", Role.REPORTER)
    first = await harness.enter(3002, "Một")
    second = await harness.enter(3003, "Hai")

    first.send(f"/start {expired}")
    assert "đã hết hạn" in (await first.next_message()).text
    await first.next_message()  # the menu follows every /start
    first.send(f"/start {single}")
    assert "Bạn đã tham gia" in (await first.next_message()).text
    await first.next_message()  # menu
    second.send(f"/start {single}")
    assert "đã được sử dụng hết" in (await second.next_message()).text
    await second.next_message()  # still the resident menu
    second.send("/start j_MadeUpCode123456789012")
    assert "Mã mời không đúng" in (await second.next_message()).text
    await second.next_message()
    second.send("/start something-else")
    assert "không hợp lệ" in (await second.next_message()).text
    await second.next_message()

    user = await harness.services.users.get(3003)
    assert user is not None and user.role() is Role.RESIDENT
    first.send(f"/start {single}")
    assert "đã có vai trò này" in (await first.next_message()).text


async def test_handover_ends_the_old_role_and_tells_them(harness: Harness) -> None:
    await harness.load_units()
    old = await harness.enter_as(3010, "Cũ", Role.REPORTER, "TH-ANPHU")
    code = await harness.invite("TH-ANPHU", Role.REPORTER, handover=True)
    new = await harness.enter(3011, "Mới")
    new.send(f"/start {code}")
    assert "Bạn đã tham gia" in (await new.next_message()).text
    told = await old.next_message()
    assert "đã được bàn giao" in told.text and "Ấp An Phú" in told.text
    old_user = await harness.services.users.get(3010)
    assert old_user is not None and old_user.role() is Role.RESIDENT
    anphu = await harness.services.units.by_code("TH-ANPHU")
    new_user = await harness.services.users.get(3011)
    assert await harness.services.users.members_of(anphu.id, Role.REPORTER) == [new_user.id]


async def test_coordinator_makes_an_invitation_in_the_chat(harness: Harness) -> None:
    await harness.load_units()
    minh = await harness.enter_as(3020, "Minh", Role.COORDINATOR, "TANHOA")
    minh.send("/invite")
    step1 = await minh.next_message()
    assert step1.text.startswith("Bước 1/3")
    assert step1.button_texts == ["Người báo cáo", "Cán bộ điều phối", "✖ Hủy"]
    minh.press(step1, "Người báo cáo")
    step2 = await minh.next_edit(step1)  # each step is shown in place of the last
    assert step2.text.startswith("Bước 2/3")
    assert "Ấp An Phú, Xã Tân Hòa" in step2.button_texts
    assert not any("Sóc Đồn" in b for b in step2.button_texts)  # outside his commune
    minh.press(step2, "◀ Quay lại")
    assert (await minh.next_edit(step2)).text.startswith("Bước 1/3")
    minh.press(step1, "Người báo cáo")
    step2 = await minh.next_edit(step1)
    minh.send("gõ chữ thay vì bấm nút")
    assert "chọn bằng các nút" in (await minh.next_message()).text
    again = await minh.next_message()  # the step, shown again below
    assert again.text.startswith("Bước 2/3")
    minh.press(step2, "Ấp An Phú, Xã Tân Hòa")
    step3 = await minh.next_edit(step2)
    assert step3.text.startswith("Bước 3/3") and "dùng một lần" in step3.text
    minh.press(step3, "✅ Tạo lời mời")
    card = await minh.next_message(timeout=15)
    assert card.photo is not None and card.file_bytes().startswith(b"\x89PNG")
    link = card.text.split()[-1]  # the caption ends with the link
    assert link.startswith("https://t.me/binhyen_test_bot?start=j_")
    code = link.split("start=")[1]

    bay = await harness.enter(3021, "Bảy")
    bay.send(f"/start {code}")
    assert "người báo cáo" in (await bay.next_message()).text
    user = await harness.services.users.get(3021)
    assert user is not None and user.role() is Role.REPORTER


async def test_restart_mid_conversation_resumes_it(harness: Harness) -> None:
    await harness.load_units()
    minh = await harness.enter_as(3030, "Minh", Role.COORDINATOR, "TANHOA")
    minh.send("/invite")
    step1 = await minh.next_message()
    minh.press(step1, "Người báo cáo")
    step2 = await minh.next_edit(step1)

    await harness.stop()
    await harness.start()

    minh.press(step2, "Ấp Phước Hậu, Xã Tân Hòa")
    step3 = await minh.next_edit(step2)
    assert step3.text.startswith("Bước 3/3") and "Ấp Phước Hậu" in step3.text
    # And the user's language and role survived too.
    minh.press(step3, "✅ Tạo lời mời")
    card = await minh.next_message(timeout=15)
    assert "Lời mời <b>người báo cáo</b> cho <b>Ấp Phước Hậu" in card.html


async def test_poster_link_remembers_the_hamlet(harness: Harness) -> None:
    await harness.load_units()
    lan = await harness.enter(3040, "Lan")
    lan.send("/start t_TH-PHUOCHAU")
    assert "Hòm thư an ninh trật tự của <b>Ấp Phước Hậu</b>" in (await lan.next_message()).html
    await lan.next_message()
    lan.send("/start t_NO-SUCH")
    assert "không hợp lệ" in (await lan.next_message()).text
