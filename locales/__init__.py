"""Message catalogs (one PO file per language) and the translator.

Every user-visible string lives in ``locales/<lang>.po`` under a key (the msgid);
placeholders use ``{name}``. Catalogs are read once per process with Babel.
"""

from __future__ import annotations

import string
from functools import cache
from importlib import resources

from babel.messages.pofile import read_po

LOCALES = ("vi", "en")
DEFAULT_LOCALE = "vi"
LANGUAGE_NAMES = {"vi": "Tiếng Việt", "en": "English"}


@cache
def catalog(locale: str) -> dict[str, str]:
    """The key → text map of one language."""
    with resources.files("locales").joinpath(f"{locale}.po").open("rb") as fh:
        po = read_po(fh, locale=locale)
    return {str(m.id): str(m.string) for m in po if m.id and isinstance(m.id, str)}


# A text's singular, for a language whose nouns change with the number: ``key#one`` is used
# when the value ``n`` is 1 (Vietnamese has no such keys: "1 ảnh", "3 ảnh").
ONE = "#one"


def placeholders(text: str) -> set[str]:
    """The ``{name}`` fields a text expects."""
    return {field for _, field, _, _ in string.Formatter().parse(text) if field}


def t(locale: str | None, key: str, /, **values: object) -> str:
    """The text for ``key`` in ``locale`` with ``values`` filled in.

    A key missing from a catalog is a bug the catalog test catches; at run time
    it falls back to the default language rather than showing a raw key.
    """
    texts = catalog(locale if locale in LOCALES else DEFAULT_LOCALE)
    if str(values.get("n", "")) == "1" and f"{key}{ONE}" in texts:
        key += ONE  # "1 photo", not "1 photos" (a language without plurals has no such key)
    text = texts.get(key) or catalog(DEFAULT_LOCALE)[key]
    return text.format(**values) if values else text
