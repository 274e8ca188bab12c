"""What a tip is and how it moves: categories, statuses, allowed changes, case codes, SLAs.

Plain Python, no Telegram and no connection: tested in microseconds.
"""

from __future__ import annotations

import csv
import io
import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cache
from importlib import resources
from itertools import count, repeat

# No 0/O, 1/I/L, 5/S, B, 2/Z: a code read over the phone or copied by hand survives.
CODE_ALPHABET = "346789ACDEFGHJKMNPQRTUVWXY"
CODE_PREFIX = "TB-"
EVENT_PREFIX = "VV-"  # vụ việc: an event a reporter reported (storage.events)
CODE_LENGTH = 5  # the shortest code, and the length of every code made before issue 15
ATTEMPTS_AT_START = 8  # random codes tried at the starting length before growing


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


# Case codes
#
# A code is a prefix and a body of CODE_LENGTH or more characters of CODE_ALPHABET, drawn at
# random (secrets) when the tip or event is filed: short while the table is small (residents
# type them), as long as the table needs later. free_code tries ATTEMPTS_AT_START bodies of
# the starting length, then two of each longer length, with no upper bound; each try is one
# lookup in the code's unique index, inside the filing's transaction (no extra round trip).
#
# Why it ends. Let N be the codes already stored, of any length, and S_L = 26**L. Whatever
# the history, at most N stored codes have length L, so a random body of length L is taken
# with probability p_L <= N / S_L, and each character more divides the bound by 26. The loop
# goes past length L only if every try up to L failed, which has probability at most
# p_start**8 * p_(start+1)**2 * ... * p_L**2: once S_L > N the factors shrink 676-fold a step,
# so the tail vanishes faster than geometrically and the loop ends with probability 1.
# With N = 100 million and the start that start_length picks (6, from the newest row's id):
#   p_6 <= 0.324, p_7 <= 0.0125, p_8 <= 0.00048;
#   P(no free code in 8 tries at 6) <= 0.324**8 = 8.3e-5, P(past 7) <= 1.3e-8,
#   P(past 8) <= 3e-15; expected tries about 1 / (1 - 0.324) = 1.5.
# A process that has filed nothing yet starts at 5 (its estimate is 0): at 100 million that
# is 8 certain misses, then P(past 6) <= 0.324**2 = 0.105, P(past 7) <= 1.6e-5,
# P(past 8) <= 3.7e-12. At a billion tips the start is 7: P(past 7) <= 0.125**8 = 6e-8.
# Excluding the bodies that begin with VV (below) shrinks a space by 1/676: no difference.
#
# Guessing does not matter at any density: /status shows a tip only to the account that sent
# it (TipRepo.status_for_sender matches the sender's keyed hash), /tip only within the
# coordinator's scope, and "unknown" and "not yours" read the same.
#
# One string, one reading. A tip's code may be typed without its prefix, an event's may not;
# so a tip body longer than five never begins with the event prefix's letters (VV): then
# "vv7k3q9" is only ever the event VV-7K3Q9, and "vv7k3" only the tip TB-VV7K3 (an old code).

_EVENT_MARK = EVENT_PREFIX.removesuffix("-")  # "VV": what an event's code begins with, typed


def _reads_as_event(body: str) -> bool:
    """Whether a tip body typed bare would read as an event's code (never made, never read)."""
    return len(body) > CODE_LENGTH and body.startswith(_EVENT_MARK)


def _is_body(body: str) -> bool:
    return len(body) >= CODE_LENGTH and all(ch in CODE_ALPHABET for ch in body)


def new_code(prefix: str = CODE_PREFIX, length: int = CODE_LENGTH) -> str:
    """A random code such as ``TB-7K3Q9`` (``length`` characters after the prefix; 26^5 ≈
    11.9 million of five); ``VV-…`` for events. Not checked against the stored ones:
    :func:`free_code` does that."""
    while True:  # redraws 1 time in 676, for a long tip body that would read as an event's
        body = "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))
        if prefix != CODE_PREFIX or not _reads_as_event(body):
            return prefix + body


def start_length(stored: int) -> int:
    """The length to try first when about ``stored`` codes exist: the shortest whose space is
    larger than that. Below 26^5 ≈ 11.9 million tips that is five; by then the five-character
    space is nearly full, so longer codes cost residents nothing the short ones would save."""
    length = CODE_LENGTH
    while len(CODE_ALPHABET) ** length <= stored:
        length += 1
    return length


def code_lengths(start: int = CODE_LENGTH) -> Iterator[int]:
    """The length of each attempt: ATTEMPTS_AT_START at ``start``, then two at each longer
    length, without end (the arithmetic above says why it is enough)."""
    yield from repeat(start, ATTEMPTS_AT_START)
    for length in count(start + 1):
        yield length
        yield length


def free_code(taken: Callable[[str], bool], prefix: str = CODE_PREFIX, *,
              stored: int = 0) -> str:
    """A random code that ``taken`` says is free, starting from :func:`start_length` of
    ``stored`` (a cheap estimate of how many codes exist, e.g. the newest row's id) and
    growing as :func:`code_lengths` says. Never gives up; see the arithmetic above."""
    for length in code_lengths(start_length(stored)):
        code = new_code(prefix, length)
        if not taken(code):
            return code
    raise AssertionError("unreachable: code_lengths never ends")


def seed_code(n: int, prefix: str = CODE_PREFIX) -> str:
    """The ``n``-th valid code (n >= 0), for seeding benchmarks and tests with many distinct
    codes: distinct for distinct ``n``, five characters while ``n < 26**5`` (the same codes as
    tests/bench/preload has made), then six, seven, … in turn. Deterministic, so never a real
    tip's code (those are random: :func:`free_code`)."""
    if n < 0:
        raise ValueError("seed_code: n must be >= 0")
    base = len(CODE_ALPHABET)
    length, band = CODE_LENGTH, base ** CODE_LENGTH
    while n >= band:
        n -= band
        length += 1
        band = _band(prefix, length)
    digits = []
    if band < base ** length:  # skip the bodies that begin with the mark
        pair, n = n % (base * base - 1), n // (base * base - 1)
        mark = CODE_ALPHABET.index(_EVENT_MARK[0]) + CODE_ALPHABET.index(_EVENT_MARK[1]) * base
        if pair >= mark:
            pair += 1
        digits += [pair % base, pair // base]
    while len(digits) < length:
        n, digit = divmod(n, base)
        digits.append(digit)
    return prefix + "".join(CODE_ALPHABET[d] for d in digits)


def _band(prefix: str, length: int) -> int:
    """How many valid codes of ``length`` there are for ``prefix``."""
    base = len(CODE_ALPHABET)
    if (prefix == CODE_PREFIX and length > CODE_LENGTH
            and all(ch in CODE_ALPHABET for ch in _EVENT_MARK)):
        return base ** length - base ** (length - 2)
    return base ** length


def normalise_code(text: str) -> str | None:
    """A tip's code as typed (``tb 7k3q9``, ``7K3Q9``, ``TB-7K3Q9X``) in its stored form, or
    None if it cannot be one. Five characters or more; a bare body longer than five that
    begins with VV is an event's (:func:`event_code`)."""
    raw = "".join(ch for ch in text.upper() if ch.isalnum())
    raw = raw.removeprefix("TB")  # B is not in the alphabet: no body begins with TB
    if not _is_body(raw) or _reads_as_event(raw):
        return None
    return CODE_PREFIX + raw


def event_code(text: str) -> str | None:
    """An event's code as typed (``vv 7k3q9``, ``VV-7K3Q9``; the prefix is needed, as a body
    alone is a tip's) in its stored form, or None if it is not one."""
    raw = "".join(ch for ch in text.upper() if ch.isalnum())
    if not raw.startswith(_EVENT_MARK):
        return None
    raw = raw[len(_EVENT_MARK):]
    if not _is_body(raw):
        return None
    return EVENT_PREFIX + raw


def code_pattern(prefix: str = CODE_PREFIX) -> re.Pattern[str]:
    """Codes with ``prefix`` as the bot writes them in its messages, of any length."""
    return re.compile(rf"(?<!\w){re.escape(prefix)}[{CODE_ALPHABET}]{{{CODE_LENGTH},}}(?!\w)")


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
