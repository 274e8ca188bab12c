"""What a tip is and how it moves: categories, statuses, allowed changes, case codes, SLAs.

Plain Python, no Telegram and no connection: tested in microseconds.
"""

from __future__ import annotations

import csv
import io
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cache
from importlib import resources

# No 0/O, 1/I/L, 5/S, B, 2/Z: a code read over the phone or copied by hand survives.
CODE_ALPHABET = "346789ACDEFGHJKMNPQRTUVWXY"
CODE_PREFIX = "TB-"
EVENT_PREFIX = "VV-"  # vụ việc: an event a reporter reported (storage.events)
CODE_LENGTH = 5


class Status(StrEnum):
    """A tip's place in its lifecycle (brief: mới → đã tiếp nhận → ... → đã kết thúc)."""

    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    VERIFYING = "verifying"
    IN_PROGRESS = "in_progress"
    CLOSED = "closed"


class Resolution(StrEnum):
    """How a closed tip ended."""

    RESOLVED = "resolved"
    UNFOUNDED = "unfounded"
    DUPLICATE = "duplicate"


_ORDER = [Status.NEW, Status.ACKNOWLEDGED, Status.VERIFYING, Status.IN_PROGRESS, Status.CLOSED]


def next_statuses(current: Status) -> list[Status]:
    """Where a tip may go from ``current``: forward, skipping steps is allowed; closed is final."""
    if current is Status.CLOSED:
        return []
    return _ORDER[_ORDER.index(current) + 1:]


def can_move(current: Status, target: Status) -> bool:
    """Whether ``current`` → ``target`` is a change the lifecycle allows."""
    return target in next_statuses(current)


@dataclass(frozen=True)
class Category:
    """A kind of tip; ``danger`` ones repeat the emergency numbers at once."""

    code: str
    danger: bool


@cache
def categories() -> tuple[Category, ...]:
    """The configured categories (storage/data/tip_categories.csv; names in the catalogs)."""
    text = resources.files("storage").joinpath("data/tip_categories.csv").read_text("utf-8")
    rows = csv.DictReader(io.StringIO(text))
    found = tuple(Category(r["code"].strip(), r["danger"].strip() == "1") for r in rows)
    if not found or len({c.code for c in found}) != len(found):
        raise RuntimeError("tip_categories.csv: empty or with a repeated code")
    return found


def category(code: str) -> Category | None:
    """The category with this code, if configured."""
    return next((c for c in categories() if c.code == code), None)


def new_code(prefix: str = CODE_PREFIX) -> str:
    """A fresh case code such as ``TB-7K3Q9`` (26^5 ≈ 11.9 million); ``VV-…`` for events."""
    return prefix + "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(text: str) -> str | None:
    """A tip's code as typed (``tb 7k3q9``, ``7K3Q9``) in its stored form, or None if it
    cannot be one."""
    raw = "".join(ch for ch in text.upper() if ch.isalnum())
    raw = raw.removeprefix("TB")
    if len(raw) != CODE_LENGTH or any(ch not in CODE_ALPHABET for ch in raw):
        return None
    return CODE_PREFIX + raw


def event_code(text: str) -> str | None:
    """An event's code as typed (``vv 7k3q9``, ``VV-7K3Q9``; the prefix is needed, as five
    letters alone are a tip's) in its stored form, or None if it is not one."""
    raw = "".join(ch for ch in text.upper() if ch.isalnum())
    if not raw.startswith("VV"):
        return None
    raw = raw[2:]
    if len(raw) != CODE_LENGTH or any(ch not in CODE_ALPHABET for ch in raw):
        return None
    return EVENT_PREFIX + raw


@dataclass(frozen=True)
class TipPolicy:
    """Limits and deadlines (settings; defaults from the brief and BLTTHS 2015 art. 147)."""

    daily_limit: int = 10
    acknowledge_within: timedelta = timedelta(hours=24)
    close_within: timedelta = timedelta(days=20)
    retention: timedelta = timedelta(days=90)
    duplicate_window: timedelta = timedelta(days=7)
    max_media: int = 10
    max_text: int = 4000
    draft_ttl: timedelta = timedelta(days=14)


@dataclass(frozen=True)
class Deadline:
    """The next deadline of an open tip and whether it has passed."""

    kind: str  # "acknowledge" or "close"
    due: datetime
    overdue: bool


def deadline(
    status: Status, created_at: datetime, now: datetime, policy: TipPolicy
) -> Deadline | None:
    """The SLA that applies now: acknowledge a new tip, close any open one; None once closed."""
    if status is Status.CLOSED:
        return None
    if status is Status.NEW:
        due = created_at + policy.acknowledge_within
        return Deadline("acknowledge", due, now > due)
    due = created_at + policy.close_within
    return Deadline("close", due, now > due)


@dataclass
class Draft:
    """A tip being written by a resident (kept sealed in ``drafts``)."""

    step: str = "category"
    category: str | None = None
    body: str = ""
    media: list[tuple[str, str]] = field(default_factory=list)  # (kind, file_id)
    unit_id: int | None = None
    unit_from_poster: bool = False
    place_text: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    occurred_kind: str | None = None
    occurred_at: str | None = None  # ISO time ("now") or date ("today", "date")
    anonymous: bool | None = None
    name: str | None = None
    editing: bool = False
    commune_asked: bool = False  # "which commune?" was answered (perhaps "not known")
    full_album: str | None = None  # an album that ran past the media limit (said once)

    def to_json(self) -> dict:
        """A JSON-ready dict."""
        return {k: (list(map(list, v)) if k == "media" else v) for k, v in self.__dict__.items()}

    @classmethod
    def from_json(cls, data: dict) -> Draft:
        """Back from :meth:`to_json`; unknown keys (from an older version) are ignored."""
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        known["media"] = [tuple(m) for m in known.get("media", [])]
        return cls(**known)

    def has_files(self) -> bool:
        """Whether any attachment was sent as a file (which keeps EXIF/GPS or ID3 metadata)."""
        return any(kind in ("document", "audio") for kind, _ in self.media)
