"""Text functions. Text is counted in code points; "" is blank; results are capped in length."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, ClassVar

from engine.expr import ast, numbers
from engine.expr.functions.base import ANY, Function, Param
from engine.expr.runtime import EvalContext
from engine.expr.types import BOOLEAN, NUMBER, TEXT, ExprType, Kind

MAX_TEXT = 100_000
"""A text result longer than this many code points is blank (every backend, docs/expressions.md)."""
MAX_FORMAT = 100
"""A TEXT format longer than this many code points gives blank (every backend)."""
TXT: tuple[Kind, ...] = ("text",)
NUM: tuple[Kind, ...] = ("number",)
# Exactly the characters Python's str.isspace() accepts; every backend uses this list.
WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
Text = str | None


def cap_text(value: str) -> Text:
    """Blank for "" and for results longer than MAX_TEXT code points."""
    if not value or len(value) > MAX_TEXT:
        return None
    return value


def count(value: Decimal | None) -> int:
    return int(value) if value is not None else 0


class Concatenate(Function):
    name = "CONCATENATE"
    category = "text"
    params = (Param("text1", TXT), Param("text2", TXT, True, True))
    returns = TEXT
    summary_zh = "把多个值连接成文本（数字、日期按 TEXT 的规则转成文本），等同于 &"
    summary_en = "Joins values into one text (numbers and dates converted as TEXT does), like &"
    examples = (('CONCATENATE("合同", "-", 2024)', "合同-2024"),)

    def python(self, *args: Text) -> Text:
        return cap_text("".join(a for a in args if a))


class Left(Function):
    name = "LEFT"
    category = "text"
    params = (Param("text", TXT), Param("num_chars", NUM, True))
    returns = TEXT
    summary_zh = "从左边取指定个数的字符（默认 1）"
    summary_en = "The first num_chars characters (default 1)"
    examples = (('LEFT("积木平台", 2)', "积木"),)

    def python(self, text: Text, n: Decimal | None = numbers.ONE) -> Text:
        k = count(n)
        return None if k < 0 else cap_text((text or "")[:k])


class Right(Function):
    name = "RIGHT"
    category = "text"
    params = (Param("text", TXT), Param("num_chars", NUM, True))
    returns = TEXT
    summary_zh = "从右边取指定个数的字符（默认 1）"
    summary_en = "The last num_chars characters (default 1)"
    examples = (('RIGHT("HT-2024", 4)', "2024"),)

    def python(self, text: Text, n: Decimal | None = numbers.ONE) -> Text:
        k = count(n)
        if k < 0:
            return None
        return cap_text((text or "")[-k:] if k else "")


class Mid(Function):
    name = "MID"
    category = "text"
    params = (Param("text", TXT), Param("start_num", NUM), Param("num_chars", NUM))
    returns = TEXT
    summary_zh = "从第 start_num 个字符起取 num_chars 个字符"
    summary_en = "num_chars characters starting at position start_num"
    examples = (('MID("上海市浦东新区", 4, 2)', "浦东"),)

    def python(self, text: Text, start: Decimal | None, n: Decimal | None) -> Text:
        s, k = count(start), count(n)
        if s < 1 or k < 0:
            return None
        return cap_text((text or "")[s - 1 : s - 1 + k])


class Len(Function):
    name = "LEN"
    category = "text"
    params = (Param("text", TXT),)
    returns = NUMBER
    summary_zh = "字符个数（按 Unicode 码点计，一个汉字或表情算 1 个）"
    summary_en = (
        "Number of characters (Unicode code points: one Chinese character or emoji counts 1)"
    )
    examples = (('LEN("积木")', "2"), ('LEN("")', "0"))

    def python(self, text: Text) -> Decimal:
        return Decimal(len(text or ""))


class Upper(Function):
    name = "UPPER"
    category = "text"
    params = (Param("text", TXT),)
    returns = TEXT
    summary_zh = "转为大写（完整 Unicode 规则，ß 变为 SS）"
    summary_en = "Upper case (full Unicode mapping: ß becomes SS)"
    examples = (('UPPER("straße")', "STRASSE"),)

    def python(self, text: Text) -> Text:
        return cap_text((text or "").upper())


class Lower(Function):
    name = "LOWER"
    category = "text"
    params = (Param("text", TXT),)
    returns = TEXT
    summary_zh = "转为小写（完整 Unicode 规则）"
    summary_en = "Lower case (full Unicode mapping)"
    examples = (('LOWER("ABC")', "abc"),)

    def python(self, text: Text) -> Text:
        return cap_text((text or "").lower())


_INNER_SPACES = re.compile(" {2,}")


class Trim(Function):
    name = "TRIM"
    category = "text"
    params = (Param("text", TXT),)
    returns = TEXT
    summary_zh = "去掉首尾空白（含全角空格 U+3000），并把中间连续的空格合并为一个"
    summary_en = "Removes leading/trailing whitespace (including the ideographic space U+3000) and collapses inner runs of spaces"
    examples = (('TRIM("　 张  三 ")', "张 三"),)

    def python(self, text: Text) -> Text:
        return cap_text(_INNER_SPACES.sub(" ", (text or "").strip(WHITESPACE)))


class Replace(Function):
    name = "REPLACE"
    category = "text"
    params = (
        Param("old_text", TXT),
        Param("start_num", NUM),
        Param("num_chars", NUM),
        Param("new_text", TXT),
    )
    returns = TEXT
    summary_zh = "把从 start_num 起的 num_chars 个字符替换为新文本"
    summary_en = "Replaces num_chars characters starting at start_num with new_text"
    examples = (('REPLACE("13812345678", 4, 4, "****")', "138****5678"),)

    def python(self, old: Text, start: Decimal | None, n: Decimal | None, new: Text) -> Text:
        s, k = count(start), count(n)
        if s < 1 or k < 0:
            return None
        text = old or ""
        return cap_text(text[: s - 1] + (new or "") + text[s - 1 + k :])


class Substitute(Function):
    name = "SUBSTITUTE"
    category = "text"
    params = (
        Param("text", TXT),
        Param("old_text", TXT),
        Param("new_text", TXT),
        Param("instance_num", NUM, True),
    )
    returns = TEXT
    summary_zh = "把文本中的 old_text 替换为 new_text；给出 instance_num 时只替换第几次出现"
    summary_en = "Replaces old_text with new_text; with instance_num, only that occurrence"
    examples = (
        ('SUBSTITUTE("a-b-c", "-", "/")', "a/b/c"),
        ('SUBSTITUTE("a-b-c", "-", "/", 2)', "a-b/c"),
    )

    def python(self, text: Text, old: Text, new: Text, instance: Decimal | None = None) -> Text:
        base = text or ""
        if not old:
            return cap_text(base)
        if instance is None:
            if base.count(old) * max(len(new or "") - len(old), 0) + len(base) > MAX_TEXT:
                return None
            return cap_text(base.replace(old, new or ""))
        nth = count(instance)
        if nth < 1:
            return None
        position = -1
        for _ in range(nth):
            position = base.find(old, position + 1)
            if position < 0:
                return cap_text(base)
        return cap_text(base[:position] + (new or "") + base[position + len(old) :])


class Find(Function):
    name = "FIND"
    category = "text"
    params = (Param("find_text", TXT), Param("within_text", TXT), Param("start_num", NUM, True))
    returns = NUMBER
    case_sensitive = True
    summary_zh = "查找文本出现的位置（区分大小写，从 1 开始）；找不到时为空"
    summary_en = "Position of find_text in within_text (case-sensitive, from 1); blank if not found"
    examples: ClassVar[tuple[tuple[str, str], ...]] = (
        ('FIND("b", "abcb")', "2"),
        ('FIND("B", "abc")', "(blank)"),
    )

    def python(
        self, find: Text, within: Text, start: Decimal | None = numbers.ONE
    ) -> Decimal | None:
        s = count(start)
        haystack, needle = within or "", find or ""
        if s < 1 or s > len(haystack) + 1:
            return None
        if not self.case_sensitive:
            haystack, needle = haystack.lower(), needle.lower()
        index = haystack.find(needle, s - 1)
        return Decimal(index + 1) if index >= 0 else None


class Search(Find):
    name = "SEARCH"
    case_sensitive = False
    summary_zh = "查找文本出现的位置（不区分大小写，从 1 开始；不支持通配符）；找不到时为空"
    summary_en = "Position of find_text in within_text (case-insensitive, from 1; no wildcards); blank if not found"
    examples = (('SEARCH("B", "abc")', "2"),)


class Exact(Function):
    name = "EXACT"
    category = "text"
    params = (Param("text1", TXT), Param("text2", TXT))
    returns = BOOLEAN
    summary_zh = "两个文本完全相同（区分大小写）时为真"
    summary_en = "TRUE if the two texts are identical (case-sensitive)"
    examples = (('EXACT("a", "A")', "FALSE"),)

    def python(self, a: Text, b: Text) -> bool:
        return (a or "") == (b or "")


class Rept(Function):
    name = "REPT"
    category = "text"
    params = (Param("text", TXT), Param("number_times", NUM))
    returns = TEXT
    summary_zh = "把文本重复若干次；结果过长（超过 10 万字符）时为空"
    summary_en = (
        "Repeats text a number of times; blank if the result would exceed 100,000 characters"
    )
    examples = (('REPT("★", 3)', "★★★"),)

    def python(self, text: Text, times: Decimal | None) -> Text:
        k = count(times)
        if k < 0 or len(text or "") * k > MAX_TEXT:
            return None
        return cap_text((text or "") * k)


class Value(Function):
    name = "VALUE"
    category = "text"
    params = (Param("text", TXT),)
    returns = NUMBER
    summary_zh = "把文本转成数字（可带正负号、千分位逗号、末尾 %）；不能转换时为空"
    summary_en = "Converts text to a number (sign, thousands commas and a trailing % allowed); blank if it cannot"
    examples = (
        ('VALUE("1,234.5")', "1234.5"),
        ('VALUE("12%")', "0.12"),
        ('VALUE("abc")', "(blank)"),
    )

    def python(self, text: Text) -> Decimal | None:
        return numbers.parse_number_text(text) if text else None


class TextJoin(Function):
    name = "TEXTJOIN"
    category = "text"
    params = (
        Param("delimiter", TXT),
        Param("ignore_empty", ("boolean",)),
        Param("text1", TXT, list_ok=True),
        Param("text2", TXT, True, True, True),
    )
    returns = TEXT
    summary_zh = "用分隔符连接多个值（可以是子表单或关联字段的一列）；ignore_empty 为真时跳过空值"
    summary_en = "Joins values (a subform or relation column too) with a delimiter; skips blanks if ignore_empty is TRUE"
    examples = (('TEXTJOIN("、", TRUE, "甲", "", "乙")', "甲、乙"),)

    def python(self, delimiter: Text, ignore_empty: Any, *args: Any) -> Text:
        items: list[str] = []
        for arg in args:
            for v in arg if isinstance(arg, list) else [arg]:
                if v is None and ignore_empty is True:
                    continue
                items.append(v or "")
        return cap_text((delimiter or "").join(items))


class Split(Function):
    name = "SPLIT"
    category = "text"
    params = (Param("text", TXT), Param("separator", TXT))
    backends = frozenset({"python", "js"})
    summary_zh = (
        "按分隔符把文本拆成列表，可用于 COUNTA、TEXTJOIN 等（仅在表单中计算，不能用于数据库筛选）"
    )
    summary_en = "Splits text into a list for COUNTA, TEXTJOIN and the like (computed in forms, not in database filters)"
    examples = (('COUNTA(SPLIT("a,b,c", ","))', "3"),)

    def result_type(self, args: Sequence[ExprType], call: ast.Call, source: str) -> ExprType:
        return TEXT.as_list(f"SPLIT@{call.span.offset}")

    def python(self, text: Text, separator: Text) -> list[Text]:
        if text is None:
            return []
        parts = text.split(separator) if separator else [text]
        return [p or None for p in parts]


# --- TEXT and its format mini-language ----------------------------------------------------

_DATE_TOKENS = re.compile(r"YYYY|yyyy|YY|yy|MM|M|DD|dd|D|d|HH|hh|H|h|mm|m|ss|s")
_NUMBER_PATTERN = re.compile(r"[0#][0#,]*(?:\.[0#]*)?|\.[0#]+")


def format_number(value: Decimal, fmt: str) -> str:
    """Format with an Excel-like pattern: prefix, digits (0 # , .), suffix; % in it scales by 100."""
    match = _NUMBER_PATTERN.search(fmt)
    if match is None:
        return fmt
    prefix, pattern, suffix = fmt[: match.start()], match.group(), fmt[match.end() :]
    # Wide enough for every digit the pattern asks for, whatever the thread's context.
    context = numbers.CTX.copy()
    context.prec = max(context.prec, len(fmt) + 25)
    if "%" in prefix + suffix:
        value = value.scaleb(2, context)
    whole_pattern, _, frac_pattern = pattern.partition(".")
    places = len(frac_pattern)
    required = frac_pattern.count("0")
    rounded = value.quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP, context)
    negative = rounded < 0
    digits = format(rounded.copy_abs(), "f")
    whole, _, frac = digits.partition(".")
    while len(frac) > required and frac.endswith("0"):
        frac = frac[:-1]
    min_int = whole_pattern.replace(",", "").count("0")
    whole = whole.lstrip("0").rjust(min_int, "0")
    if "," in whole_pattern:
        whole = f"{int(whole or '0'):,}" if whole else ""
    body = whole + ("." + frac if frac else "")
    if not body:
        body = "0"
    return ("-" if negative and body.strip("0.,") else "") + prefix + body + suffix


def format_datetime(value: dt.date | dt.datetime | dt.time, fmt: str) -> str:
    """Format a date/datetime/time with YYYY MM DD HH mm ss (and short forms); others literal."""
    year = getattr(value, "year", None)
    parts = {
        "Y": year,
        "M": getattr(value, "month", None),
        "D": getattr(value, "day", None),
        "H": getattr(value, "hour", 0 if year is not None else None),
        "m": getattr(value, "minute", 0 if year is not None else None),
        "s": getattr(value, "second", 0 if year is not None else None),
    }

    def token(match: re.Match[str]) -> str:
        t = match.group()
        key = {"y": "Y", "d": "D", "h": "H"}.get(t[0], t[0])
        number = parts[key]
        if number is None:
            return t
        if key == "Y":
            return f"{number:04d}" if len(t) == 4 else f"{number % 100:02d}"
        return f"{number:02d}" if len(t) == 2 else str(number)

    return _DATE_TOKENS.sub(token, fmt)


def default_text(ctx: EvalContext, value: Any) -> Text:
    """The text of a value with no format: what ``&`` and CONCATENATE use."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, Decimal):
        return numbers.to_text(value)
    if isinstance(value, dt.datetime):
        return value.astimezone(ctx.tz).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return cap_text(str(value))


class TextFn(Function):
    name = "TEXT"
    category = "text"
    params = (Param("value", ANY), Param("format_text", TXT, True))
    returns = TEXT
    needs_ctx = True
    summary_zh = (
        "把值按格式转成文本。数字格式：0、0.00、#,##0.00、0%、¥#,##0 等；日期格式：YYYY MM DD HH mm ss"
        "（M、D、H 等单字母不补零）；日期时间按组织时区。省略格式时数字去掉末尾的 0，日期为 YYYY-MM-DD；"
        "格式超过 100 个字符时为空"
    )
    summary_en = (
        "Formats a value as text. Number patterns: 0, 0.00, #,##0.00, 0%, ¥#,##0...; date tokens YYYY MM DD HH mm ss"
        " (single letters unpadded); datetimes in the organisation's time zone. Without a format numbers lose"
        " trailing zeros and dates read YYYY-MM-DD; a format longer than 100 characters gives blank"
    )
    examples = (
        ('TEXT(1234.5, "#,##0.00")', "1,234.50"),
        ('TEXT(0.256, "0.0%")', "25.6%"),
        ('TEXT(DATE(2024, 3, 5), "YYYY年M月D日")', "2024年3月5日"),
        ("TEXT(1.50)", "1.5"),
    )

    def python(self, ctx: EvalContext, value: Any, fmt: Text = None) -> Text:
        if value is None:
            return None
        if fmt is None or isinstance(value, (bool, str)):
            return default_text(ctx, value)
        if len(fmt) > MAX_FORMAT:
            return None
        if isinstance(value, Decimal):
            return cap_text(format_number(value, fmt))
        if isinstance(value, dt.datetime):
            value = value.astimezone(ctx.tz)
        return cap_text(format_datetime(value, fmt))


FUNCTIONS: tuple[Function, ...] = (
    Concatenate(),
    Left(),
    Right(),
    Mid(),
    Len(),
    Upper(),
    Lower(),
    Trim(),
    Replace(),
    Substitute(),
    Search(),
    Find(),
    Exact(),
    Rept(),
    Value(),
    TextJoin(),
    Split(),
    TextFn(),
)
