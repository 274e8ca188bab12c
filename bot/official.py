"""Who issues a document upward, and the lines Nghị định 30/2020/NĐ-CP puts on it.

A commune's report and workbook open with its issuing body (under the body above it), the
national motto, the number ("Số:      /BC-CAX", the number itself given by the clerk when the
document is registered) and the place and date line ("Tân Hòa, ngày 01 tháng 12 năm 2026"),
and close with "Nơi nhận" and the signer. :func:`resolve` takes what an admin set for the unit
(storage.offices) and fills the rest from the unit tree: "Xã Tân Hòa" under "Tỉnh Cà Mau"
issues as "CÔNG AN XÃ TÂN HÒA" under "CÔNG AN TỈNH CÀ MAU". Only the signer's name has no
default; a document made without it leaves the line to be written by hand, and the bot says so.
Pure: no Telegram, no SQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from babel.dates import format_date

from locales import t
from storage.models import Unit
from storage.offices import RECIPIENT_SEP, OfficeFields
from storage.units import UnitTree

__all__ = ["Office", "date_line", "in_sentence", "number_line", "resolve", "title_case"]

# The level word a unit's name may begin with, and what it is called in each language
# (longest first: "Thành phố" before "Thị"...).
_LEVEL_WORDS = (
    ("đặc khu", "special zone"), ("thành phố", "city"), ("thị trấn", "township"),
    ("thị xã", "town"), ("phường", "ward"), ("huyện", "district"), ("quận", "district"),
    ("tỉnh", "province"), ("xã", "commune"),
)
# A unit whose name has no level word: the word its level implies.
_LEVEL_OF = {"province": "tỉnh", "commune": "xã", "ward": "phường", "district": "huyện",
             "special_zone": "đặc khu", "city": "thành phố"}
_PREFIX = {"xã": "CAX", "phường": "CAP", "đặc khu": "CAĐK", "tỉnh": "CAT", "thành phố": "CATP"}


@dataclass(frozen=True)
class Office:
    """Everything a document's header and closing say, each field filled."""

    body: str  # "CÔNG AN XÃ TÂN HÒA"
    parent_body: str  # "CÔNG AN TỈNH CÀ MAU" ("" when the unit is a root)
    place: str  # "Tân Hòa"
    number_prefix: str  # "CAX"
    signer_authority: str  # "KT. TRƯỞNG CÔNG AN XÃ" ("" when the head signs)
    signer_title: str  # "TRƯỞNG CÔNG AN XÃ"
    signer_name: str  # "" when not set: the line is left to be written by hand
    recipients: tuple[str, ...]
    defaulted: tuple[str, ...] = ()  # fields taken from the unit tree, not set

    @property
    def missing(self) -> tuple[str, ...]:
        """Fields with neither a setting nor a default."""
        return () if self.signer_name else ("signer_name",)


def _split(name: str) -> tuple[str | None, str]:
    """'Xã Tân Hòa' → ('xã', 'Tân Hòa'); 'Tân Hòa' → (None, 'Tân Hòa')."""
    lowered = name.lower()
    for word, _ in _LEVEL_WORDS:
        if lowered.startswith(word + " ") and len(name) > len(word) + 1:
            return word, name[len(word) + 1:].strip()
    return None, name.strip()


def in_sentence(name: str) -> str:
    """A unit's name inside a sentence: 'Xã Tân Hòa' → 'xã Tân Hòa' (a list of several
    names, 'Xã A, Xã B', each)."""
    out = []
    for part in name.split(", "):
        word, place = _split(part)
        out.append(f"{part[:len(word)].lower()} {place}" if word else part)
    return ", ".join(out)


def _english(word: str | None) -> str:
    return dict(_LEVEL_WORDS).get(word or "", "")


def _body(unit: Unit, locale: str) -> str:
    """The police of ``unit``, as its documents name it."""
    word, place = _split(unit.name)
    word = word or _LEVEL_OF.get(unit.level)
    if locale == "en":
        level = _english(word).upper()
        return f"{place.upper()} {level} POLICE".replace("  ", " ")
    return " ".join(p for p in ("CÔNG AN", (word or "").upper(), place.upper()) if p)


def resolve(unit: Unit, tree: UnitTree, stored: OfficeFields, locale: str) -> Office:
    """``unit``'s office: what was set, the rest from the tree, in ``locale``."""
    word, place = _split(unit.name)
    word = word or _LEVEL_OF.get(unit.level)
    parent = tree.by_id.get(unit.parent_id) if unit.parent_id is not None else None
    level = word or ""
    title_level = (_english(level) if locale == "en" else level).upper()
    defaults = {
        "body": _body(unit, locale),
        "parent_body": _body(parent, locale) if parent is not None else "",
        "place": place,
        "number_prefix": _PREFIX.get(level, "CA"),
        "signer_authority": "",
        "signer_title": t(locale, "office.default_signer", level=title_level).strip(),
        "signer_name": "",
    }
    chosen: dict[str, str] = {}
    defaulted = []
    for name, default in defaults.items():
        value = getattr(stored, name)
        if value is None:
            defaulted.append(name)
        chosen[name] = value if value is not None else default
    if stored.recipients is not None:
        recipients = tuple(r for r in stored.recipients.split(RECIPIENT_SEP) if r.strip())
    else:
        defaulted.append("recipients")
        recipients = tuple(
            line for line in (
                t(locale, "office.default_to_parent", body=title_case(chosen["parent_body"]))
                if chosen["parent_body"] else "",
                t(locale, "office.default_to_council", unit=unit.name),
                t(locale, "office.default_archive"),
            ) if line)
    return Office(**chosen, recipients=recipients, defaulted=tuple(defaulted))


def title_case(body: str) -> str:
    """'CÔNG AN TỈNH CÀ MAU' → 'Công an tỉnh Cà Mau' (as "Nơi nhận" writes it)."""
    words = body.split()
    if not words:
        return body
    out = [words[0].capitalize()]
    common = {"AN", "TỈNH", "XÃ", "PHƯỜNG", "THÀNH", "PHỐ", "ĐẶC", "KHU", "POLICE",
              "PROVINCE", "COMMUNE", "WARD", "CITY", "PROVINCIAL"}
    seen_place = False
    for word in words[1:]:
        if word in common and not seen_place:
            out.append(word.lower())
        else:
            seen_place = True
            out.append(word.capitalize())
    return " ".join(out)


def number_line(office: Office, locale: str) -> str:
    """'Số:      /BC-CAX': the number is the clerk's to write when it is registered."""
    return t(locale, "office.number", prefix=office.number_prefix)


def date_line(office: Office, day: date, locale: str) -> str:
    """'Tân Hòa, ngày 01 tháng 12 năm 2026' (Nghị định 30: a day below 10 and the months
    1 and 2 take a leading zero) or 'Tân Hòa, 1 December 2026'."""
    if locale == "en":
        return f"{office.place}, {format_date(day, format='d MMMM yyyy', locale='en')}"
    month = f"{day.month:02d}" if day.month < 3 else str(day.month)
    return f"{office.place}, ngày {day.day:02d} tháng {month} năm {day.year}"
