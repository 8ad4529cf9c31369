"""Pinyin sort keys: the order people expect for Chinese text, the same on every database.

Text fields (`text`, `textarea`) and stored formulas whose result is text
(`engine.forms.layout.keyed_field`) keep a second column beside their value, ``f{id}k``, holding
`sort_key(value)`: an ASCII string whose plain byte order is the order a list should show.
Sorting by such a field is ``ORDER BY key, value, _id`` (`engine.forms.sql`), so SQLite and
PostgreSQL agree (the key is ASCII and declared ``COLLATE "C"`` on PostgreSQL) and a plain
index on ``(key, value, _id)`` serves the sort. Filters, comparisons, `unique` and formulas
never read the key: they keep code-point order (DESIGN §5/§6).

How a value becomes its key (the first `KEY_CHARS` characters after NFKC normalisation, so
full-width ``Ａ１`` reads as ``A1``):

- each Chinese character becomes its pinyin syllable, read phrase by phrase with pypinyin's
  phrase dictionary (重庆 → chong qing, 长沙 → chang sha, 银行 → yin hang), lower case without
  tone, ü written ``v``: element ``{`` + syllable + ``.``;
- each Latin letter, case-folded and without accents (``É`` → ``e``), is one element;
- each run of ASCII digits is one element, its number: a length mark (``0`` plus the count of
  its digits after leading zeros, as one character) then those digits, so numbers inside text
  compare by value (客户9 < 客户10 < 客户100; ``007`` and ``7`` share a key, the value breaks
  the tie). Runs of `MAX_NUMBER_DIGITS` significant digits or more share the last mark and
  compare digit by digit among themselves;
- spaces, punctuation and symbols are each the element ``!``;
- anything else (other scripts, emoji, a character without a known reading) is ``}`` and its
  code point in six hex digits.

Elements compare one by one, so the classes order as punctuation < digits < Latin < Chinese <
other, Latin ignores case, and Chinese compares syllable by syllable: 西安 (xi·an) comes before
西藏 (xi·zang), which comes before 先 (xian) — the order of a Chinese dictionary's word list.
After the elements, a space and the tone digits (1–4, 5 for the neutral tone) of the Chinese
characters in order break ties between the same syllables: 妈 < 麻 < 马 < 骂. Values whose
keys are equal (``Apple``/``apple``, same pinyin and tones, or the same first `KEY_CHARS`
characters) are ordered by the value itself (code point), then by record id.

pypinyin (its single-character and phrase dictionaries, ~50 MB) is imported on the first key
computed, never when a worker starts.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

KEY_CHARS = 64
"""How many characters of a value its key reads (after that, values compare by code point)."""
KEY_SUFFIX = "k"
"""A key column's name is its value column's with this suffix (``f12`` → ``f12k``)."""
MAX_NUMBER_DIGITS = 47
"""Significant digits a number inside text compares by value up to (its mark stays below the
Latin letters: ``0`` + 47 is ``_``)."""
KEYED_TYPES = frozenset({"text", "textarea"})
"""Field types whose stored values have a sort key column (and stored text formulas)."""
SORT_KEY_TYPE = sa.Text().with_variant(postgresql.TEXT(collation="C"), "postgresql")
"""A key column's type: byte order on PostgreSQL whatever the database's collation."""
LONGEST_PHRASE = 8
"""The longest phrase looked up in the phrase dictionary (longer entries are idioms)."""

_TONES = {"\u0304": "1", "\u0301": "2", "\u030c": "3", "\u0300": "4"}
_PUNCT = "!"
_HAN = "{"
_HAN_END = "."
_OTHER = "}"
_TONE_START = " "
_NUMBER = ord("0")


def key_column(column: str) -> str:
    """The sort key column of value column `column`."""
    return column + KEY_SUFFIX


def is_key_column(column: str) -> bool:
    """Whether a record table's column is a sort key column (``f12k``)."""
    return column.startswith("f") and column.endswith(KEY_SUFFIX) and column[1:-1].isdigit()


class _Dictionaries:
    """pypinyin's readings, loaded on first use: code point → readings, phrase → readings."""

    chars: Mapping[int, str] | None = None
    phrases: Mapping[str, list[list[str]]] | None = None


def _load() -> tuple[Mapping[int, str], Mapping[str, list[list[str]]]]:
    if _Dictionaries.chars is None or _Dictionaries.phrases is None:
        from pypinyin.constants import PHRASES_DICT, PINYIN_DICT

        _Dictionaries.chars = PINYIN_DICT
        _Dictionaries.phrases = PHRASES_DICT
    return _Dictionaries.chars, _Dictionaries.phrases


@lru_cache(maxsize=8192)
def syllable(reading: str) -> tuple[str, str] | None:
    """A tone-marked reading (``zhòng``, ``lǜ``) as (toneless syllable, tone digit):
    (``zhong``, ``4``), (``lv``, ``4``); None when it is not plain pinyin."""
    letters: list[str] = []
    tone = "5"
    for char in unicodedata.normalize("NFD", reading):
        if char in _TONES:
            tone = _TONES[char]
        elif char == "\u0308":  # ü
            if letters and letters[-1] == "u":
                letters[-1] = "v"
        elif char == "\u0302":  # ê
            continue
        elif "a" <= char <= "z":
            letters.append(char)
        else:
            return None
    return ("".join(letters), tone) if letters else None


def _readings(run: str) -> list[str]:
    """The most fitting reading of each character of a run of Chinese characters: phrases
    first (longest match from the left) where a character with several readings is near,
    else the character's most common reading."""
    chars, phrases = _load()
    first = [chars[ord(c)] for c in run]
    # where the next character with several readings is, from each position
    upcoming = [len(run)] * (len(run) + 1)
    for at in range(len(run) - 1, -1, -1):
        upcoming[at] = at if "," in first[at] else upcoming[at + 1]
    found: list[str] = []
    at = 0
    while at < len(run):
        if upcoming[at] - at < LONGEST_PHRASE:
            for length in range(min(LONGEST_PHRASE, len(run) - at), 1, -1):
                phrase = phrases.get(run[at : at + length])
                if phrase is not None and len(phrase) == length:
                    found.extend(reading[0] for reading in phrase)
                    at += length
                    break
            else:
                found.append(first[at].split(",", 1)[0])
                at += 1
        else:
            found.append(first[at])
            at += 1
    return found


def _other(char: str) -> str:
    return f"{_OTHER}{ord(char):06x}"


def _latin(char: str) -> str | None:
    """A letter as its case-folded letters without accents, when they are ASCII."""
    plain = "".join(
        c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c)
    ).casefold()
    return plain if plain and plain.isascii() and plain.isalpha() else None


def _element(char: str) -> str:
    if char.isascii():
        if char.isalnum():
            return char.lower()
        return _PUNCT
    if char.isalpha():
        return _latin(char) or _other(char)
    category = unicodedata.category(char)
    if category[0] in "PSZC":
        return _PUNCT
    return _other(char)


def sort_key(value: Any) -> str | None:
    """The sort key of a stored text value (None for blank; see the module for its form)."""
    if not value or not isinstance(value, str):
        return None
    return _key(value, True)


def digit_sort_key(value: Any) -> str | None:
    """The key as migration ``0017_pinyin`` first wrote it, each digit its own element (客户10
    < 客户9): what a downgrade below ``0020_pinyinnum`` writes back. Nothing else uses it."""
    if not value or not isinstance(value, str):
        return None
    return _key(value, False)


def _number(digits: str) -> str:
    """A run of ASCII digits as one element that compares by the number's value."""
    significant = digits.lstrip("0")
    return chr(_NUMBER + min(len(significant), MAX_NUMBER_DIGITS)) + significant


@lru_cache(maxsize=65536)
def _run(run: str) -> tuple[str, str]:
    """A run of Chinese characters as its elements and its tone digits (kept: names share runs
    such as 北京, 有限公司)."""
    parts: list[str] = []
    tones: list[str] = []
    for char, reading in zip(run, _readings(run), strict=True):
        parsed = syllable(reading)
        if parsed is None:
            parts.append(_other(char))
        else:
            parts.append(f"{_HAN}{parsed[0]}{_HAN_END}")
            tones.append(parsed[1])
    return "".join(parts), "".join(tones)


@lru_cache(maxsize=65536)
def _key(value: str, numbers: bool) -> str:
    chars, _ = _load()
    text = unicodedata.normalize("NFKC", value)[:KEY_CHARS]
    parts: list[str] = []
    tones: list[str] = []
    at = 0
    while at < len(text):
        if numbers and "0" <= text[at] <= "9":
            end = at
            while end < len(text) and "0" <= text[end] <= "9":
                end += 1
            parts.append(_number(text[at:end]))
            at = end
            continue
        if ord(text[at]) in chars:
            end = at
            while end < len(text) and ord(text[end]) in chars:
                end += 1
            elements, digits = _run(text[at:end])
            parts.append(elements)
            tones.append(digits)
            at = end
            continue
        parts.append(_element(text[at]))
        at += 1
    return "".join(parts) + _TONE_START + "".join(tones)


BACKFILL_BATCH = 2000


def has_column(conn: Connection, table: str, column: str) -> bool:
    """Whether `table` has `column` in the database."""
    return column in {c["name"] for c in sa.inspect(conn).get_columns(table)}


def ensure_key_column(conn: Connection, table: str, value_column: str) -> bool:
    """Add the key column of `value_column` to `table` when it lacks one; True if added."""
    column = key_column(value_column)
    if has_column(conn, table, column):
        return False
    compiled = SORT_KEY_TYPE.compile(dialect=conn.dialect)
    conn.execute(sa.text(f"ALTER TABLE {table} ADD COLUMN {column} {compiled}"))
    return True


def backfill(
    conn: Connection,
    table: str,
    value_column: str,
    *,
    reset: bool = False,
    batch: int = BACKFILL_BATCH,
    commit: bool = False,
    key: Callable[[Any], str | None] = sort_key,
) -> int:
    """Write the key of every value of `table.value_column` that has none, `batch` rows at a
    time, in `_id` order; `reset` first clears every key (the values were rewritten by a type
    change). Each batch picks rows whose key is still missing, so a backfill stopped half-way
    resumes where it stopped; `commit` commits after each batch (a long upgrade keeps what it
    did). Returns the number of keys written."""
    column = key_column(value_column)
    if reset:
        conn.execute(sa.text(f"UPDATE {table} SET {column} = NULL"))
    pick = sa.text(
        f"SELECT _id, {value_column} FROM {table} WHERE {column} IS NULL"
        f" AND {value_column} IS NOT NULL AND _id > :after ORDER BY _id LIMIT :n"
    )
    write = sa.text(f"UPDATE {table} SET {column} = :k WHERE _id = :i")
    written = 0
    after = 0
    while True:
        rows = conn.execute(pick, {"after": after, "n": batch}).all()
        if not rows:
            return written
        changes = [{"i": rid, "k": key(value)} for rid, value in rows if value != ""]
        if changes:
            conn.execute(write, changes)
        written += len(changes)
        after = rows[-1][0]
        if commit:
            conn.commit()


def rekey(
    conn: Connection,
    table: str,
    value_column: str,
    *,
    key: Callable[[Any], str | None] = sort_key,
    batch: int = BACKFILL_BATCH,
) -> int:
    """Rewrite the keys of `table.value_column` that differ from `key` of their value (the key's
    form changed), reading `batch` rows at a time in `_id` order and writing only the rows
    whose key changes; values are never touched, so a rerun writes nothing. Returns the number
    of keys rewritten."""
    column = key_column(value_column)
    pick = sa.text(
        f"SELECT _id, {value_column}, {column} FROM {table}"
        f" WHERE _id > :after ORDER BY _id LIMIT :n"
    )
    write = sa.text(f"UPDATE {table} SET {column} = :k WHERE _id = :i")
    written = 0
    after = 0
    while True:
        rows = conn.execute(pick, {"after": after, "n": batch}).all()
        if not rows:
            return written
        changes = [
            {"i": rid, "k": wanted}
            for rid, value, stored in rows
            if (wanted := key(value)) != stored
        ]
        if changes:
            conn.execute(write, changes)
        written += len(changes)
        after = rows[-1][0]


__all__ = [
    "BACKFILL_BATCH",
    "KEYED_TYPES",
    "KEY_CHARS",
    "MAX_NUMBER_DIGITS",
    "SORT_KEY_TYPE",
    "backfill",
    "digit_sort_key",
    "ensure_key_column",
    "has_column",
    "is_key_column",
    "key_column",
    "rekey",
    "sort_key",
    "syllable",
]
