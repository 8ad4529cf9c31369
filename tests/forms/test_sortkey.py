"""`engine.forms.sortkey`: the pinyin sort key of text, against orders worked out by hand.

The expected orders below come from the readings, not from the library: 北 bei, 长(沙) chang,
成 cheng, 重(庆) chong, 上 shang, 深 shen, 西安 xi·an, 西藏 xi·zang, 先 xian, 行(走) xing,
银(行) yin·hang, 长(大) zhang, 重(要) zhong."""

from __future__ import annotations

import pytest

from engine.forms.sortkey import KEY_CHARS, is_key_column, sort_key, syllable


def ordered(values: list[str]) -> list[str]:
    """`values` as a sort by the key, then the value, shows them."""
    return sorted(values, key=lambda v: (sort_key(v), v))


def test_cities_sort_by_their_pinyin() -> None:
    cities = ["上海", "深圳", "重庆", "北京", "成都", "长沙"]
    assert ordered(cities) == ["北京", "长沙", "成都", "重庆", "上海", "深圳"]
    assert sorted(cities) != ordered(cities)  # code point order puts 上海 first


def test_polyphones_read_as_in_their_phrase() -> None:
    words = ["重要", "长大", "银行", "行走", "重庆", "长沙"]
    assert ordered(words) == ["长沙", "重庆", "行走", "银行", "长大", "重要"]


def test_syllable_by_syllable_then_tones() -> None:
    # 西安 (xi an) < 西藏 (xi zang) < 先 (xian): syllables compare one by one
    assert ordered(["先", "西藏", "西安"]) == ["西安", "西藏", "先"]
    # same syllable: tones 1 < 2 < 3 < 4 decide
    assert ordered(["骂", "马", "麻", "妈"]) == ["妈", "麻", "马", "骂"]
    # a word before the words it begins
    assert ordered(["北京市", "北", "北京"]) == ["北", "北京", "北京市"]
    # ü after u (lu < lü)
    assert ordered(["绿", "路"]) == ["路", "绿"]


def test_punctuation_digits_latin_then_chinese_case_insensitive() -> None:
    values = ["北京", "beijing", "Beijing", "123", "9号", "Apple", "阿里", "_x", "Éclair"]
    assert ordered(values) == [
        "_x",
        "9号",  # numbers compare by value: 9 < 123
        "123",
        "Apple",
        "Beijing",  # same key as beijing: the value (code point) breaks the tie
        "beijing",
        "Éclair",
        "阿里",
        "北京",
    ]
    assert sort_key("Ａ１") == sort_key("a1")  # full-width reads as ASCII


def test_numbers_inside_text_compare_by_value() -> None:
    values = ["客户10", "客户9", "客户", "客户100", "客户1a", "客户1", "客户09", "客户0"]
    assert ordered(values) == [
        "客户",
        "客户0",
        "客户1",
        "客户1a",
        "客户09",
        "客户9",
        "客户10",
        "客户100",
    ]
    # digit runs anywhere: versions, house numbers, phone numbers of one format
    assert ordered(["v1.10", "v1.9", "v1.2"]) == ["v1.2", "v1.9", "v1.10"]
    assert ordered(["12号楼", "2号楼", "B2", "b10"]) == ["2号楼", "12号楼", "B2", "b10"]
    assert ordered(["138-0000-1234", "138-0000-0999"]) == ["138-0000-0999", "138-0000-1234"]
    assert sort_key("００７") == sort_key("7")  # full-width digits, leading zeros
    # a number between punctuation and letters, whatever its length
    assert ordered(["a", "9" * 60, "!"]) == ["!", "9" * 60, "a"]
    assert ordered(["9" * 50, "1" + "0" * 50]) == ["1" + "0" * 50, "9" * 50]  # past the mark


def test_other_scripts_come_last_and_keys_are_ascii() -> None:
    assert ordered(["한국", "北京", "zebra"]) == ["zebra", "北京", "한국"]
    for value in ["한국", "北京", "😀", "Ünïcödé", "𠀀", "a\u3000b"]:
        key = sort_key(value)
        assert key is not None and key.isascii()


def test_blank_has_no_key_and_long_values_are_cut() -> None:
    assert sort_key(None) is None and sort_key("") is None
    long = "中" * (KEY_CHARS + 50)
    assert sort_key(long) == sort_key("中" * KEY_CHARS)


@pytest.mark.parametrize(
    ("reading", "expected"),
    [("zhòng", ("zhong", "4")), ("lǜ", ("lv", "4")), ("ma", ("ma", "5")), ("ā", ("a", "1"))],
)
def test_tone_marks_become_digits(reading: str, expected: tuple[str, str]) -> None:
    assert syllable(reading) == expected


def test_key_columns_are_recognised() -> None:
    assert is_key_column("f12k") and not is_key_column("f12") and not is_key_column("_owner")
