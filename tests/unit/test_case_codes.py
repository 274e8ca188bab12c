"""Case codes (issue 15): old five-character codes and longer new ones, as typed; the search
for a free code, which grows instead of giving up; and seed_code for benchmarks. Then the
repositories with the short space full: filing goes on with longer codes, and old short
codes are still found."""

from __future__ import annotations

import itertools
import random
import re
from collections import Counter
from datetime import UTC, datetime

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from storage import tip_lifecycle
from storage.crypto import Vault
from storage.events import EventDraft, EventRepo
from storage.tip_lifecycle import (
    ATTEMPTS_AT_START,
    CODE_ALPHABET,
    CODE_LENGTH,
    CODE_PREFIX,
    EVENT_PREFIX,
    Draft,
    TipPolicy,
    code_lengths,
    code_pattern,
    event_code,
    free_code,
    new_code,
    normalise_code,
    seed_code,
    start_length,
)
from storage.tips import TipRepo
from storage.units import UnitRepo, parse_units_csv
from storage.users import UserRepo
from tests.conftest import UNITS_CSV

SECRET = "unit-test-secret-0123456789abcdefghijkl"
T0 = datetime(2026, 11, 21, 3, 0, tzinfo=UTC)
BASE = len(CODE_ALPHABET)
NOT_IN_CODES = "0O1IL5SBZ2"

old_bodies = st.text(CODE_ALPHABET, min_size=5, max_size=5)  # every code made before
long_bodies = st.text(CODE_ALPHABET, min_size=6, max_size=14).filter(
    lambda b: not b.startswith("VV"))  # what a tip may get now, besides five


def typed(body: str, prefix: str, data: st.DataObject) -> str:
    """A code as a person might type it: any case, prefix or not (a tip's), spaces/dashes."""
    heads = [prefix, prefix.lower(), prefix[:2] + " ", prefix[:2].lower()]
    if prefix == CODE_PREFIX:
        heads.append("")  # a tip's code may be typed bare, an event's may not
    out = data.draw(st.sampled_from(heads))
    for ch in body:
        out += data.draw(st.sampled_from(["", "", " ", "-"])) + data.draw(
            st.sampled_from([ch, ch.lower()]))
    return data.draw(st.sampled_from(["", " "])) + out + data.draw(st.sampled_from(["", " "]))


# ------------------------------------------------------------------ shapes as typed


@given(old_bodies, st.data())
def test_old_five_character_codes_are_read_as_before(body: str, data) -> None:
    assert normalise_code(typed(body, CODE_PREFIX, data)) == CODE_PREFIX + body
    assert event_code(typed(body, EVENT_PREFIX, data)) == EVENT_PREFIX + body


@given(long_bodies, st.data())
def test_longer_codes_are_read_the_same_ways(body: str, data) -> None:
    assert normalise_code(typed(body, CODE_PREFIX, data)) == CODE_PREFIX + body
    assert event_code(typed(body, EVENT_PREFIX, data)) == EVENT_PREFIX + body


def test_the_examples_people_type() -> None:
    assert normalise_code("tb 7k3q9") == normalise_code("7K3Q9") == "TB-7K3Q9"
    assert normalise_code("/status tb-7k3q9") is None  # the command is not part of the code
    assert normalise_code(" tb 7k3 q9x4 ") == "TB-7K3Q9X4"
    assert normalise_code("vv7k3") == "TB-VV7K3"  # an old tip code that begins with VV
    assert event_code("vv7k3") is None
    assert event_code("vv 7k3q9") == event_code("VV-7K3Q9") == "VV-7K3Q9"
    assert normalise_code("VV-7K3Q9") is None  # an event's, not a tip's
    assert event_code("VV-VV7K3Q") == "VV-VV7K3Q"  # an event's body may begin with VV


@given(st.text(CODE_ALPHABET, max_size=4))
def test_fewer_than_five_characters_is_no_code(body: str) -> None:
    assert normalise_code(CODE_PREFIX + body) is None and normalise_code(body) is None
    assert event_code(EVENT_PREFIX + body) is None  # ("VV-333" is the old tip TB-VV333)


@given(st.text(CODE_ALPHABET, min_size=5, max_size=12), st.sampled_from(NOT_IN_CODES),
       st.integers(0, 12))
@example(body="T33333", bad="B", at=1)  # found by hypothesis in a full run: "TB33333"
def test_a_character_outside_the_alphabet_is_no_code(body: str, bad: str, at: int) -> None:
    body = body[:at] + bad + body[at:]
    # A B put after a leading T makes "TB…": typed bare, that is the prefix without its dash
    # ("TB33333" is TB-33333), so only the prefixed form is surely no code then.
    bare = () if body.startswith("TB") else (body, body.lower())
    for text in (CODE_PREFIX + body, *bare):
        assert normalise_code(text) is None, text
    assert event_code(EVENT_PREFIX + body) is None


@given(st.text(CODE_ALPHABET, min_size=4, max_size=12))
def test_a_bare_long_body_beginning_with_vv_is_no_tip_code(rest: str) -> None:
    assert normalise_code("VV" + rest) is None  # it would read as an event's code


@given(st.text(CODE_ALPHABET + "TBVtbv -.0", max_size=16))
def test_no_text_is_both_a_tip_code_and_an_event_code(text: str) -> None:
    assert normalise_code(text) is None or event_code(text) is None


@given(st.text(max_size=40))
def test_any_text_is_read_without_error_and_a_code_reads_as_itself(text: str) -> None:
    for read in (normalise_code, event_code):
        code = read(text)
        assert code is None or read(code) == code


# ------------------------------------------------------------------ making codes


@pytest.mark.parametrize("length", [5, 6, 7, 9, 12])
def test_new_codes_of_each_length_are_valid(length: int) -> None:
    tips = {new_code(length=length) for _ in range(500)}
    events = {new_code(EVENT_PREFIX, length) for _ in range(500)}
    assert all(len(c) == 3 + length and normalise_code(c) == c for c in tips)
    assert all(len(c) == 3 + length and event_code(c) == c for c in events)
    if length > CODE_LENGTH:
        assert not any(c.startswith("TB-VV") for c in tips)


def test_the_length_grows_by_one_for_each_further_pair_of_attempts() -> None:
    lengths = list(itertools.islice(code_lengths(), ATTEMPTS_AT_START + 200))
    assert lengths[:ATTEMPTS_AT_START] == [5] * ATTEMPTS_AT_START
    assert lengths[ATTEMPTS_AT_START:ATTEMPTS_AT_START + 6] == [6, 6, 7, 7, 8, 8]
    assert lengths[-1] == 5 + 100  # and on, without end
    assert list(itertools.islice(code_lengths(7), 10)) == [7] * 8 + [8, 8]


@pytest.mark.parametrize(("stored", "length"), [
    (0, 5), (26**5 - 1, 5), (26**5, 6), (100_000_000, 6), (26**6, 7), (10**9, 7), (10**12, 9),
])
def test_the_starting_length_follows_the_table(stored: int, length: int) -> None:
    assert start_length(stored) == length


@pytest.mark.parametrize("full_below", [6, 8, 20])
def test_free_code_grows_past_every_taken_length(full_below: int) -> None:
    code = free_code(lambda c: len(c) - 3 < full_below)
    assert len(code) - 3 == full_below and normalise_code(code) == code


def test_free_code_never_gives_up_even_when_every_draw_is_the_same(monkeypatch) -> None:
    class Stuck:
        @staticmethod
        def choice(alphabet: str) -> str:
            return alphabet[0]

    monkeypatch.setattr(tip_lifecycle, "secrets", Stuck)
    seen: set[str] = set()
    for _ in range(40):
        seen.add(free_code(seen.__contains__))
    assert sorted(map(len, seen)) == [3 + n for n in range(5, 45)]


@pytest.mark.parametrize("seed", [15, 2026])
def test_a_table_filling_a_small_alphabet_stays_short_then_grows(monkeypatch, seed) -> None:
    # Four letters: 4^5 = 1,024 five-character codes, a space that fills in a test; seeded
    # draws, so that what is likely is also what happens every time.
    monkeypatch.setattr(tip_lifecycle, "CODE_ALPHABET", "37VX")
    monkeypatch.setattr(tip_lifecycle, "secrets", random.Random(seed))
    stored: list[str] = []
    taken: set[str] = set()
    for _ in range(6_000):
        code = free_code(taken.__contains__, stored=len(stored))
        assert code not in taken and normalise_code(code.lower()) == code
        taken.add(code)
        stored.append(code)
    lengths = Counter(len(c) - 3 for c in stored)
    assert lengths[5] > 0.85 * 4**5  # nearly all five-character codes were used
    assert all(len(c) == 3 + 5 for c in stored[:256])  # a quarter full: short codes still
    assert max(lengths) <= 9  # 6,000 codes: start at 7, 8 now and then, 9 hardly ever


# ------------------------------------------------------------------ seed_code


def _seed_index(code: str) -> int:
    """seed_code's inverse, written apart from it: that it exists proves codes distinct."""
    prefix, body = code[:3], code[3:]
    skip = prefix == CODE_PREFIX
    n = sum(BASE**k - (BASE**(k - 2) if skip and k > CODE_LENGTH else 0)
            for k in range(CODE_LENGTH, len(body)))
    digits = [CODE_ALPHABET.index(ch) for ch in body]
    if skip and len(body) > CODE_LENGTH:
        pair = digits[0] + digits[1] * BASE
        mark = CODE_ALPHABET.index("V") * (BASE + 1)
        assert pair != mark
        pair -= pair > mark
        rest = sum(d * BASE**i for i, d in enumerate(digits[2:]))
        return n + rest * (BASE * BASE - 1) + pair
    return n + sum(d * BASE**i for i, d in enumerate(digits))


@given(st.integers(0, 10**13), st.sampled_from([CODE_PREFIX, EVENT_PREFIX]))
def test_seed_codes_are_valid_and_distinct(n: int, prefix: str) -> None:
    code = seed_code(n, prefix)
    read = normalise_code if prefix == CODE_PREFIX else event_code
    assert read(code) == code and read(code.lower()) == code
    assert _seed_index(code) == n


def test_seed_codes_are_five_characters_while_they_last_and_as_before() -> None:
    def preload(n: int) -> str:  # what tests/bench/preload made before seed_code existed
        chars = []
        for _ in range(5):
            n, r = divmod(n, BASE)
            chars.append(CODE_ALPHABET[r])
        return CODE_PREFIX + "".join(chars)

    for n in [*range(2_000), *range(26**5 - 2_000, 26**5)]:
        assert seed_code(n) == preload(n)
    assert len(seed_code(26**5 - 1)) == 8 and len(seed_code(26**5)) == 9
    around = [n for edge in (26**5, 26**5 + 675 * 26**4, 100_000_000)
              for n in range(edge - 3_000, edge + 3_000)]
    assert len({seed_code(n) for n in around}) == len(around)
    assert len(seed_code(100_000_000 - 1)) == 9  # 100 million fit in six characters


@pytest.mark.parametrize("alphabet", ["3V", "37V", "37X"])
def test_seed_codes_enumerate_exactly_the_valid_codes(monkeypatch, alphabet: str) -> None:
    monkeypatch.setattr(tip_lifecycle, "CODE_ALPHABET", alphabet)
    for prefix, read in ((CODE_PREFIX, normalise_code), (EVENT_PREFIX, event_code)):
        valid = [prefix + "".join(b) for k in range(5, 9)
                 for b in itertools.product(alphabet, repeat=k)
                 if read(prefix + "".join(b)) == prefix + "".join(b)]
        assert [seed_code(n, prefix) for n in range(len(valid))] == sorted(
            valid, key=lambda c: (len(c), c[3:][::-1].translate(_order(alphabet))))


def _order(alphabet: str) -> dict[int, str]:
    """Sort by alphabet position (little-endian reversed), not by character."""
    return str.maketrans(alphabet, "".join(chr(ord("a") + i) for i in range(len(alphabet))))


# ------------------------------------------------------------------ in messages


def test_codes_are_found_whole_in_the_bots_messages() -> None:
    text = "Tin báo TB-7K3Q9 và TB-7K3Q9XW4 (mới). TB-7K3Q không; TB-7K3Q90 không; VV-ACDEF."
    assert code_pattern().findall(text) == ["TB-7K3Q9", "TB-7K3Q9XW4"]
    assert code_pattern(EVENT_PREFIX).findall(text) == ["VV-ACDEF"]
    assert re.fullmatch(code_pattern(), seed_code(10**9))


# ------------------------------------------------------------------ in the repositories


@pytest.fixture
async def repos(store):
    """On each backend in turn (tests/conftest.py)."""
    db = store
    vault = Vault(SECRET)
    units = UnitRepo(db)
    await units.import_rows(parse_units_csv(UNITS_CSV))
    return TipRepo(db, vault, TipPolicy()), EventRepo(db), UserRepo(db, vault), units


def _draft(unit_id: int | None) -> Draft:
    return Draft(step="review", category="theft", body="Mất trộm xe.", unit_id=unit_id,
                 occurred_kind="today", occurred_at="2026-11-21", anonymous=True)


async def test_filing_goes_on_past_a_full_short_space_and_old_codes_are_found(
        repos, monkeypatch) -> None:
    tips, _, users, units = repos
    anphu = (await units.by_code("TH-ANPHU")).id
    lan, hoa = (await users.ensure(101, 101)).id, (await users.ensure(102, 102)).id
    # Two letters: 2^5 = 32 five-character codes; 60 tips must overflow them.
    monkeypatch.setattr(tip_lifecycle, "CODE_ALPHABET", "3V")
    filed = [((await tips.create(_draft(anphu), sender, T0))[0], sender)
             for sender in [lan, hoa] * 30]
    codes = [tip.code for tip, _ in filed]
    assert len(set(codes)) == 60
    short = [c for c in codes if len(c) == 3 + 5]
    assert 0 < len(short) <= 32 and len(codes) - len(short) >= 28
    assert not any(c.startswith("TB-VV") and len(c) > 8 for c in codes)
    for tip, sender in filed:
        other = hoa if sender == lan else lan
        assert (await tips.by_code(tip.code)).id == tip.id
        assert (await tips.for_sender(normalise_code(tip.code.lower()), sender)).id == tip.id
        assert await tips.for_sender(tip.code, other) is None


async def test_once_the_table_outgrows_the_short_space_no_probe_is_spent_on_it(
        repos, monkeypatch) -> None:
    tips, _, users, _ = repos
    lan = (await users.ensure(101, 101)).id
    monkeypatch.setattr(tip_lifecycle, "CODE_ALPHABET", "3V")
    first, _ = await tips.create(_draft(None), lan, T0)  # an old, short code
    probes: list[str] = []
    real = tip_lifecycle.new_code

    def counted(prefix: str = CODE_PREFIX, length: int = CODE_LENGTH) -> str:
        probes.append(code := real(prefix, length))
        return code

    monkeypatch.setattr(tip_lifecycle, "new_code", counted)
    for _ in range(40):
        await tips.create(_draft(None), lan, T0)
    assert (await tips.for_sender(first.code, lan)).id == first.id
    # From 32 tips on (2^5) the repository starts at six characters: the last nine filings
    # probed nothing shorter.
    assert all(len(c) > 3 + 5 for c in probes[-9:])


async def test_events_too_go_on_past_a_full_short_space(repos, monkeypatch) -> None:
    _, events, users, units = repos
    bay = (await users.ensure(2001, 2001)).id
    anphu = (await units.by_code("TH-ANPHU")).id
    monkeypatch.setattr(tip_lifecycle, "CODE_ALPHABET", "3V")
    made = [await events.create(EventDraft(
        step="review", type="disorder", unit_id=anphu, occurred_kind="now",
        occurred_at=T0.isoformat(), description="Xô xát", people=2), bay, T0)
        for _ in range(50)]
    assert len({e.code for e in made}) == 50
    assert any(len(e.code) > 3 + 5 for e in made)
    for event in made:
        assert event_code(event.code.lower()) == event.code
        assert (await events.by_code(event.code)).id == event.id
