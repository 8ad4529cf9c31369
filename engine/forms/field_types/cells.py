"""What the field types' spreadsheet hooks (`FieldType.to_cell` / `from_cell`) work with.

`CellWriter` is one export's language and time zone, with the ways cells join lists and say
yes/no; `CellReader` is one import's time zone. The text helpers here read cells the way
Chinese users type them (dates `2024年6月1日`, amounts `¥1,200`, 是/否, 省市区 addresses); the
spreadsheet module (`engine.forms.spreadsheet`) owns files, headers and names of people.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo

from engine.forms.common import Label, LocalizedText

Language = Literal["zh", "en"]
Cell = tuple[Any, str | None]  # a value and its xlsx number format

NO_ACCESS = {"zh": "无权限", "en": "No access"}  # a related record the caller may not see
SEPARATORS = re.compile(r"[、,，;；\n]")


def label_in(label: Label | None, fallback: str, lang: Language) -> str:
    """A label in `lang` (the other language, then `fallback`, when it has none)."""
    if isinstance(label, str):
        return label or fallback
    if isinstance(label, LocalizedText):
        first, second = (label.zh, label.en) if lang == "zh" else (label.en, label.zh)
        return first or second or fallback
    return fallback


def labels_of(label: Label | None) -> list[str]:
    """Every text of a label (both languages), for matching what people typed."""
    if isinstance(label, str):
        return [label]
    if isinstance(label, LocalizedText):
        return [text for text in (label.zh, label.en) if text]
    return []


@dataclass(frozen=True)
class CellWriter:
    """One export: its language and the time zone date-times are shown in."""

    lang: Language
    zone: ZoneInfo

    def yes_no(self, value: bool) -> str:
        return ("是" if value else "否") if self.lang == "zh" else ("Yes" if value else "No")

    def join(self, parts: Iterable[str]) -> str:
        return ("、" if self.lang == "zh" else ", ").join(parts)

    def related(self, item: dict[str, Any]) -> str:
        """A related record's title; 无权限 / No access for one outside the caller's rights."""
        if item.get("restricted"):
            return NO_ACCESS[self.lang]
        return str(item.get("title") or item.get("_id"))

    def number(self, value: Any, pattern: str) -> Cell:
        """A decimal (record JSON text) as a number cell with its own places."""
        number = Decimal(value)
        places = places_of(number)
        return number, pattern + ("." + "0" * places if places else "")


def places_of(number: Decimal) -> int:
    """The decimal places `number` is written with."""
    exponent = number.as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


@dataclass(frozen=True)
class CellReader:
    """One import: the time zone of date-times typed without one."""

    zone: ZoneInfo


def split_parts(text: str) -> list[str]:
    """A cell holding several values (、,，;； or new lines between them)."""
    return [p.strip() for p in SEPARATORS.split(text) if p.strip()]


def is_decimal(text: str) -> bool:
    return bool(re.fullmatch(r"-?\d+(\.\d+)?", text))


def cell_text(raw: Any) -> str | None:
    """A cell as trimmed text (None when blank); whole floats without `.0`."""
    if raw is None:
        return None
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    if isinstance(raw, dt.datetime):
        return raw.strftime("%Y-%m-%d %H:%M:%S")
    text = str(raw).strip()
    return text or None


def number_input(raw: Any) -> Any:
    """A number cell as input text: thousands separators and currency signs dropped."""
    if isinstance(raw, bool):
        return raw  # the pipeline says it is not a number
    if isinstance(raw, int | Decimal):
        return str(raw)
    if isinstance(raw, float):
        return repr(raw) if raw.is_integer() is False else str(int(raw))
    text = str(raw).strip().replace(",", "").replace("，", "")
    return text.lstrip("¥￥$").strip()


def boolean_input(raw: Any) -> Any:
    """是/否, yes/no, ✓/✗ and their kin as a boolean; anything else stays text (an issue later)."""
    if isinstance(raw, bool):
        return raw
    text = (cell_text(raw) or "").casefold()
    if text in ("是", "true", "yes", "y", "1", "√", "✓", "对"):
        return True
    if text in ("否", "false", "no", "n", "0", "×", "✗", "错"):
        return False
    return text


def date_input(raw: Any) -> Any:
    """A date cell (a spreadsheet date, 2024/6/1, 2024年6月1日) as `YYYY-MM-DD`."""
    if isinstance(raw, dt.datetime):
        return raw.date().isoformat()
    if isinstance(raw, dt.date):
        return raw.isoformat()
    text = cell_text(raw) or ""
    found = re.fullmatch(
        r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:\s+00:00(?::00)?)?", text
    )
    if found:
        year, month, day = found.groups()
        return f"{year}-{int(month):02d}-{int(day):02d}"
    return text


def datetime_input(raw: Any, zone: ZoneInfo) -> Any:
    """A date-time cell as UTC ISO text; one without a zone is in `zone`."""
    if isinstance(raw, dt.datetime):
        moment = raw if raw.tzinfo else raw.replace(tzinfo=zone)
        return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    text = cell_text(raw) or ""
    local = re.fullmatch(
        r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})[ T](\d{1,2}):(\d{2})(?::(\d{2}))?", text
    )
    if local:
        try:
            year, month, day, hour, minute, second = (int(g or 0) for g in local.groups())
            moment = dt.datetime(year, month, day, hour, minute, second, tzinfo=zone)
        except ValueError:
            return text
        return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    return text


def address_text(value: dict[str, Any]) -> str:
    """省市区 + detail, the city left out when it repeats the province (北京市北京市…)."""
    province, city = value.get("province") or "", value.get("city") or ""
    parts = [
        province,
        "" if city == province else city,
        value.get("district") or "",
        value.get("detail") or "",
    ]
    return "".join(parts)


_PROVINCE = re.compile(r"^(北京市|天津市|上海市|重庆市|.{1,8}?(?:省|自治区|特别行政区))")
_CITY = re.compile(r"^(.{1,10}?(?:自治州|地区|盟|市))")
_DISTRICT = re.compile(r"^(.{1,8}?(?:区|县|旗|市))")
_MUNICIPALITIES = frozenset({"北京市", "天津市", "上海市", "重庆市"})


def parse_address(text: str) -> dict[str, str | None] | None:
    """省市区 + detail back into parts: province by its suffix (or a municipality), then the
    city and district by theirs; what remains is the detail."""
    rest = text.strip()
    if not rest:
        return None
    parts: dict[str, str | None] = {
        "province": None,
        "city": None,
        "district": None,
        "detail": None,
    }
    if found := _PROVINCE.match(rest):
        parts["province"] = found.group(1)
        rest = rest[found.end() :]
        if parts["province"] in _MUNICIPALITIES:
            parts["city"] = parts["province"]
            if rest.startswith(parts["province"] or ""):
                rest = rest[len(parts["province"] or "") :]
        elif found := _CITY.match(rest):
            parts["city"] = found.group(1)
            rest = rest[found.end() :]
        if found := _DISTRICT.match(rest):
            parts["district"] = found.group(1)
            rest = rest[found.end() :]
    parts["detail"] = rest or None
    return parts


def datetime_cell(value: str, sheet: CellWriter) -> Cell:
    """A UTC date-time (record JSON) as a spreadsheet date-time in the export's zone."""
    moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(sheet.zone)
    return moment.replace(tzinfo=None, microsecond=0), "yyyy-mm-dd hh:mm:ss"


def people_cell(value: Any, sheet: CellWriter) -> Cell:
    """Members or departments (`{"id", "name"}`, one or a list) by name."""
    items = value if isinstance(value, list) else [value]
    return sheet.join(str(i.get("name") or i.get("id")) for i in items if isinstance(i, dict)), None


def decimal_cell(value: Any, sheet: CellWriter) -> Cell:
    """A computed value: decimal text as a real number with its places, the rest as it is."""
    if isinstance(value, str) and is_decimal(value):
        return sheet.number(value, "0")
    return value, None
