"""Every key in every catalog, with the same placeholders; no text in code without a key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from locales import LOCALES, ONE, catalog, placeholders, t

ROOT = Path(__file__).resolve().parents[2]


def test_catalogs_have_the_same_keys() -> None:
    """The same keys everywhere, but for a language's singulars (``key#one``), each of a key
    every catalog has."""
    keys = {locale: {k for k in catalog(locale) if not k.endswith(ONE)} for locale in LOCALES}
    reference = keys[LOCALES[0]]
    for locale, found in keys.items():
        assert found == reference, (locale, sorted(found ^ reference))
        singulars = {k.removesuffix(ONE) for k in catalog(locale) if k.endswith(ONE)}
        assert singulars <= reference, (locale, sorted(singulars - reference))


@pytest.mark.parametrize("locale", LOCALES)
def test_no_empty_text_and_same_placeholders(locale: str) -> None:
    for key, text in catalog(locale).items():
        assert text.strip(), f"{locale}: {key} is empty"
        base = catalog(LOCALES[0])[key.removesuffix(ONE)]
        if key.endswith(ONE):  # "the message you sent" may leave the 1 out
            assert placeholders(text) <= placeholders(base) and "{n}" in base, (locale, key)
        else:
            assert placeholders(text) == placeholders(base), (locale, key)


@pytest.mark.parametrize("locale", LOCALES)
def test_every_line_of_the_file_is_read(locale: str) -> None:
    """A line break typed into a text instead of ``\\n`` ends it there: Babel keeps what came
    before and drops the rest without a word. Every line must be one Babel reads."""
    shape = re.compile(r'(msgid|msgstr|msgctxt) ".*"|".*"|#.*|')
    for number, line in enumerate((ROOT / "locales" / f"{locale}.po").read_text("utf-8")
                                  .splitlines(), start=1):
        assert shape.fullmatch(line), f"{locale}.po:{number}: {line[:60]!r}"


def _keys_used_in_code() -> set[str]:
    pattern = re.compile(r"""(?:\btr|\bt)\((?:[^()"']*?,\s*)?f?["']([a-z_]+\.[a-z_.{}0-9]+)["']""")
    used: set[str] = set()
    for folder in ("bot", "handlers"):
        for path in (ROOT / folder).rglob("*.py"):
            used.update(pattern.findall(path.read_text("utf-8")))
    return used


def test_every_key_the_code_names_exists() -> None:
    known = set(catalog("vi"))
    used = _keys_used_in_code()
    assert len(used) > 30  # the pattern really finds the calls
    role_values = ("resident", "reporter", "coordinator", "admin")
    for key in used:
        if "{" in key:  # f"role.{...}", f"menu.{...}", f"help.{...}", f"invite.{...}"
            prefix = key.split("{")[0]
            assert any(k.startswith(prefix) for k in known), key
            continue
        assert key in known, key
    for prefix in ("role.", "menu.", "help."):
        for role in role_values:
            assert f"{prefix}{role}" in known
    for outcome in ("not_found", "expired", "used_up", "revoked", "already"):
        assert f"invite.{outcome}" in known


def test_translation_fills_placeholders_and_falls_back() -> None:
    assert t("en", "invite.ok", role="reporter", unit="X").startswith("✅ Welcome!")
    assert t("km", "cmd.start") == t("vi", "cmd.start")  # no Khmer catalog yet: the default
    assert t(None, "cmd.start") == "Màn hình chính"


def test_one_of_a_thing_is_singular_in_english() -> None:
    assert t("en", "tips.count.photo", n="1") == "1 photo"
    assert t("en", "tips.count.photo", n="3") == "3 photos"
    reminded = t("en", "report.nudge.sent", n="1", hamlets="Ấp An Phú")
    assert reminded.startswith("Reminded 1 reporter:")
    assert t("vi", "tips.count.photo", n="1") == "1 ảnh"  # Vietnamese has no plural
