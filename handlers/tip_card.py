"""What a tip's card says, and its buttons: the same for every coordinator, in their language.

Nothing here changes a tip (that is storage.tips, through handlers.tip_desk) or sends
anything (the outbox does, bot.notices): a card is built from the tip as it is when it is
sent or edited. Nothing on a card carries who an anonymous sender is. Every card fits one
Telegram message however long the tip, its place, notes and tags are: the text is cut, and
the whole of it is one ``/tip CODE`` away.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import datetime

from handlers.callbacks import data
from handlers.common import MAX_TEXT, button, cut, units
from handlers.occurred import occurred
from handlers.services import Services
from locales import formats, t
from storage.tip_lifecycle import Resolution, Status, deadline, next_statuses
from storage.tips import Tip

BODY_ON_CARD = 2500
NOTE_ON_CARD = 200  # characters of each note, closing message or history entry shown
NOTES_ON_CARD = 3
TAGS_ON_CARD = 15
_STATUS_ICON = {Status.NEW: "🆕", Status.ACKNOWLEDGED: "📥", Status.VERIFYING: "🔎",
                Status.IN_PROGRESS: "📤", Status.CLOSED: "🏁"}


DONE_ON_CARD = 6
# Room for the history on a card, in Telegram's units: with the notes, tags and the head at
# their longest, the body still has room (a card of emoji-heavy notes was too long to send).
HISTORY_ON_CARD = 1200
# What the card lists under "who did what": the tip's moves, hand-overs, questions and the
# sender's answers (notes have their own lines).
DONE_KINDS = ("status", "assign", "ask", "answer", "block", "merge", "closing")


@dataclass(frozen=True)
class Done:
    """One thing done to the tip, as a card lists it: when, by whom, what."""

    at: datetime
    by: str
    kind: str
    detail: dict
    to_status: Status | None = None
    assignee: str | None = None  # for a hand-over: to whom


@dataclass(frozen=True)
class CardFacts:
    """What a card shows beyond the tip itself, read once for all its recipients."""

    place: str
    duplicates: list[tuple[int, str]]
    assignee: str | None
    notes: list[str]
    blocked: bool
    done: list[Done] = field(default_factory=list)


async def facts(svc: Services, tip: Tip) -> CardFacts:
    """Duplicates, assignee, notes: the extra reads a card needs."""
    tree = await svc.units.tree()
    place = []
    if tip.unit_id is not None and tip.unit_id in tree.by_id:
        place.append(html.escape(tree.path(tip.unit_id)))
    if tip.place_text:
        place.append(f"«{html.escape(tip.place_text)}»")
    history = await svc.tips.history(tip.id)
    names: dict[int, str] = {}

    async def name(user_id: object) -> str:
        if not isinstance(user_id, int):
            return "—"
        if user_id not in names:
            names[user_id] = (await svc.users.reach(user_id))[0].name or f"#{user_id}"
        return names[user_id]

    assignee = await name(tip.assignee_id) if tip.assignee_id is not None else None
    done = [Done(h.at, "" if h.kind == "answer" else await name(h.actor_id), h.kind,
                 h.detail, h.to_status,
                 await name(h.detail.get("to")) if h.kind == "assign" else None)
            for h in history if h.kind in DONE_KINDS and h.to_status is not Status.NEW]
    return CardFacts(
        place=" · ".join(place),
        duplicates=await svc.tips.likely_duplicates(tip),
        assignee=assignee,
        notes=[h.detail.get("text", "") for h in history if h.kind == "note"][-NOTES_ON_CARD:],
        blocked=any(h.kind == "block" for h in history),
        done=done,
    )


def done_line(svc: Services, locale: str, done: Done) -> str:
    """'• 10:05 18/11/2026 — Cán bộ Minh: tiếp nhận' (HTML)."""
    when = formats.moment(done.at, locale, svc.timezone)
    if done.kind == "status" and done.to_status is not None:
        what = t(locale, f"tipdesk.did.{done.to_status.value}")
        if done.detail.get("resolution"):
            what += " — " + t(locale, f"tipresolution.{done.detail['resolution']}")
    elif done.kind == "assign":
        what = t(locale, "tipdesk.did.assign", name=html.escape(cut(done.assignee or "—", 64)))
    elif done.kind == "merge":
        what = t(locale, "tipdesk.did.merge", code=html.escape(str(done.detail.get("merged"))))
    elif done.kind in ("ask", "answer"):
        said = str(done.detail.get("text") or "") or t(locale, "eventdesk.answer.photo")
        what = t(locale, f"tipdesk.did.{done.kind}", text=html.escape(cut(said, NOTE_ON_CARD)))
    elif done.kind == "closing":
        what = t(locale, "tipdesk.did.closing",
                 text=html.escape(cut(str(done.detail.get("text", "")), NOTE_ON_CARD)))
    else:  # block
        what = t(locale, f"tipdesk.did.{done.kind}")
    # An answer's "by" is whoever sent the tip, named in the card's language, never more.
    who = t(locale, "tipdesk.did.sender") if done.kind == "answer" else done.by
    return f"• {when} — {html.escape(cut(who, 64))}: {what}"


def card_text(svc: Services, locale: str, tip: Tip, f: CardFacts, now: datetime) -> str:
    """The card in one coordinator's language (HTML), within one message."""
    def tr(key: str, **values: object) -> str:
        return t(locale, key, **values)

    head = [f"{_STATUS_ICON[tip.status]} <b>{tip.code}</b> · {tr(f'tipcat.{tip.category}')}"]
    status = tr(f"tipstatus.{tip.status.value}")
    if tip.resolution is not None:
        status += " — " + tr(f"tipresolution.{tip.resolution.value}")
    head.append(tr("tipdesk.card.status", status=status))
    due = deadline(tip.status, tip.created_at, now, svc.tip_policy)
    if due is not None:
        when = formats.moment(due.due, locale, svc.timezone)
        key = f"tipdesk.card.due.{due.kind}" + (".overdue" if due.overdue else "")
        head.append(tr(key, due=when))
    head.append(tr("tipdesk.card.received",
                   moment=formats.moment(tip.created_at, locale, svc.timezone)))
    head.append(tr("tipdesk.card.anonymous") if tip.anonymous else
                tr("tipdesk.card.named", name=html.escape(tip.sender_name or "—")))
    head.append("📍 " + (f.place or tr("tips.where.none")))
    if tip.latitude is not None:
        head.append(tr("tipdesk.card.location", lat=f"{tip.latitude:.5f}",
                       lon=f"{tip.longitude:.5f}"))
    head.append("🕒 " + occurred(locale, svc, tip.occurred_kind, tip.occurred_at, on_card=True))
    tail = []
    if tip.media:
        tail.append("📎 " + media_counts(locale, tip.media))
    if f.duplicates:
        tail.append(tr("tipdesk.card.duplicates", codes=", ".join(c for _, c in f.duplicates)))
    if tip.duplicate_of is not None:
        tail.append(tr("tipdesk.card.merged"))
    if f.assignee:
        tail.append(tr("tipdesk.card.assignee", name=html.escape(cut(f.assignee, 64))))
    if tip.tags:
        shown = " ".join(f"#{html.escape(tag)}" for tag in tip.tags[:TAGS_ON_CARD])
        if len(tip.tags) > TAGS_ON_CARD:
            shown += f" +{formats.number(len(tip.tags) - TAGS_ON_CARD, locale)}"
        tail.append("🏷 " + shown)
    if f.notes:
        notes = "\n".join(f"• {html.escape(cut(n, NOTE_ON_CARD))}" for n in f.notes)
        tail.append(tr("tipdesk.card.notes", notes=notes))
    if f.blocked:
        tail.append(tr("tipdesk.card.blocked"))
    if f.done:
        tail.append(history_block(locale, [done_line(svc, locale, d) for d in f.done]))
    # The body takes what the rest leaves.
    room = MAX_TEXT - sum(units(line) + 1 for line in head + tail) - 8
    limit = max(min(BODY_ON_CARD, room), 0)
    body = html.escape(tip.body) if tip.body else "—"
    if units(body) > limit:
        note = " " + tr("tipdesk.card.cut", code=tip.code)
        body = escaped_within(tip.body, limit - len(note)) + note
    return "\n".join([*head, "📝 " + body, *tail])


def history_block(locale: str, lines: list[str]) -> str:
    """"Diễn biến:" and the newest of ``lines`` (oldest first) that fit the card's room for
    them, saying how many earlier ones are left out."""
    shown: list[str] = []
    used = 0
    for line in reversed(lines[-DONE_ON_CARD:]):
        if shown and used + units(line) + 1 > HISTORY_ON_CARD:
            break
        shown.insert(0, line)
        used += units(line) + 1
    head = t(locale, "eventdesk.card.history")
    if len(lines) > len(shown):
        head += " " + t(locale, "eventdesk.card.history_more",
                        n=formats.number(len(lines) - len(shown), locale))
    return head + "\n" + "\n".join(shown)


def escaped_within(text: str, limit: int) -> str:
    """``text`` cut so that, HTML-escaped, it is at most ``limit`` characters (as Telegram
    counts them)."""
    n = limit
    while n > 0:
        escaped = html.escape(cut(text, n))
        if units(escaped) <= limit:
            return escaped
        n -= max(units(escaped) - limit, 1)
    return ""


def media_counts(locale: str, media: tuple[tuple[str, str], ...] | list) -> str:
    """'3 ảnh, 1 tin nhắn thoại'."""
    parts = []
    for kind in ("photo", "video", "voice", "video_note", "audio", "document"):
        n = sum(1 for k, _ in media if k == kind)
        if n:
            parts.append(t(locale, f"tips.count.{kind}", n=formats.number(n, locale)))
    return ", ".join(parts)


def tip_button(text: str, tip: Tip, *fields: object):
    """A button on a card: ``tip:<id>:<action>[:<argument>]``."""
    return button(text, data("tip", tip.id, *fields))


def card_keyboard(locale: str, tip: Tip, f: CardFacts):
    """The next actions for the tip's state."""
    from telegram import InlineKeyboardMarkup

    def b(key: str, *fields: object) -> object:
        return tip_button(t(locale, key), tip, *fields)

    rows = []
    if tip.is_open:
        rows.append([b(f"tipdesk.btn.{s.value}", "st", s.value)
                     for s in next_statuses(tip.status) if s is not Status.CLOSED])
        first = [b("tipdesk.btn.close", "close")]
        if tip.reachable:
            first.append(b("tipdesk.btn.ask", "ask"))
        rows.append(first)
        rows.append([b("tipdesk.btn.assign", "assign"), b("tipdesk.btn.note", "note"),
                     b("tipdesk.btn.tag", "tag")])
        if tip.reachable and not f.blocked:
            rows.append([b("tipdesk.btn.block", "block")])
    else:
        if tip.reachable:  # how it ended, in the officer's words
            rows.append([b("tipdesk.btn.closing", "closing")])
        rows.append([b("tipdesk.btn.note", "note"), b("tipdesk.btn.tag", "tag")])
    if tip.media:
        rows.append([tip_button(t(locale, "tipdesk.btn.media",
                                  n=formats.number(len(tip.media), locale)), tip, "media")])
    return InlineKeyboardMarkup([row for row in rows if row])


def close_keyboard(locale: str, tip: Tip):
    """How it ended: resolved, unfounded, duplicate of …"""
    from telegram import InlineKeyboardMarkup

    rows = [[tip_button(t(locale, f"tipresolution.{r.value}"), tip, "cl", r.value)]
            for r in Resolution]
    rows.append([tip_button(t(locale, "flow.back"), tip, "kb")])
    return InlineKeyboardMarkup(rows)
