"""Date and time functions. TODAY/NOW come from the evaluation context (organisation's zone).

Month arithmetic clamps to the month end (EDATE(2024-01-31, 1) = 2024-02-29); an impossible
date (DATE(2024, 2, 30)) is blank.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from decimal import Decimal
from typing import Any

from engine.expr.functions.base import Function, Param
from engine.expr.functions.maths import integer
from engine.expr.runtime import EvalContext
from engine.expr.types import DATE, DATETIME, NUMBER, TIME, Kind

D: tuple[Kind, ...] = ("date",)
NUM: tuple[Kind, ...] = ("number",)
Date = dt.date | None
Num = Decimal | None


def add_months(d: dt.date, months: int) -> Date:
    total = d.year * 12 + (d.month - 1) + months
    year, month = divmod(total, 12)
    if not 1 <= year <= 9999:
        return None
    day = min(d.day, calendar.monthrange(year, month + 1)[1])
    return dt.date(year, month + 1, day)


def month_end(d: dt.date) -> dt.date:
    return d.replace(day=calendar.monthrange(d.year, d.month)[1])


class Today(Function):
    name = "TODAY"
    category = "date"
    params = ()
    returns = DATE
    needs_ctx = True
    summary_zh = "今天的日期（组织时区，每次计算取一次）"
    summary_en = "Today's date in the organisation's time zone (taken once per evaluation)"
    examples = (("TODAY()", "2024-06-15"),)

    def python(self, ctx: EvalContext) -> dt.date:
        return ctx.today


class Now(Function):
    name = "NOW"
    category = "date"
    params = ()
    returns = DATETIME
    needs_ctx = True
    summary_zh = "当前时刻（每次计算取一次，精确到毫秒）"
    summary_en = "The current moment (taken once per evaluation, to the millisecond)"
    examples = (("NOW()", "2024-06-15T02:30:00.000Z"),)

    def python(self, ctx: EvalContext) -> dt.datetime:
        return ctx.now


class DateFn(Function):
    name = "DATE"
    category = "date"
    params = (Param("year", NUM), Param("month", NUM), Param("day", NUM))
    returns = DATE
    summary_zh = "由年、月、日组成日期；不存在的日期（如 2 月 30 日）为空"
    summary_en = (
        "A date from year, month and day; blank if no such date exists (such as February 30)"
    )
    examples = (("DATE(2024, 2, 29)", "2024-02-29"), ("DATE(2024, 2, 30)", "(blank)"))

    def python(self, year: Num, month: Num, day: Num) -> Date:
        try:
            return dt.date(integer(year), integer(month), integer(day))
        except (ValueError, OverflowError):
            return None


class _Part(Function):
    category = "date"
    params = (Param("date", D),)
    returns = NUMBER
    attribute = ""

    def python(self, value: Any) -> Num:
        return None if value is None else Decimal(getattr(value, self.attribute))


class Year(_Part):
    name = "YEAR"
    attribute = "year"
    summary_zh = "年份（日期时间按组织时区）"
    summary_en = "The year (datetimes in the organisation's time zone)"
    examples = (("YEAR(DATE(2024, 6, 1))", "2024"),)


class Month(_Part):
    name = "MONTH"
    attribute = "month"
    summary_zh = "月份 1–12"
    summary_en = "The month, 1–12"
    examples = (("MONTH(DATE(2024, 6, 1))", "6"),)


class Day(_Part):
    name = "DAY"
    attribute = "day"
    summary_zh = "日 1–31"
    summary_en = "The day of the month, 1–31"
    examples = (("DAY(DATE(2024, 6, 1))", "1"),)


class Hour(_Part):
    name = "HOUR"
    params = (Param("time", ("time",)),)
    attribute = "hour"
    summary_zh = "小时 0–23（日期时间按组织时区）"
    summary_en = "The hour, 0–23 (datetimes in the organisation's time zone)"
    examples = (('HOUR(TIMEVALUE("13:45:10"))', "13"),)


class Minute(Hour):
    name = "MINUTE"
    attribute = "minute"
    summary_zh = "分钟 0–59"
    summary_en = "The minute, 0–59"
    examples = (('MINUTE(TIMEVALUE("13:45:10"))', "45"),)


class Second(Hour):
    name = "SECOND"
    attribute = "second"
    summary_zh = "秒 0–59"
    summary_en = "The second, 0–59"
    examples = (('SECOND(TIMEVALUE("13:45:10"))', "10"),)


WEEKDAY_START = {1: 6, 2: 0, 3: 0, 11: 0, 12: 1, 13: 2, 14: 3, 15: 4, 16: 5, 17: 6}


class Weekday(Function):
    name = "WEEKDAY"
    category = "date"
    params = (Param("date", D), Param("return_type", NUM, True))
    returns = NUMBER
    summary_zh = "星期几。类型 1（默认）：周日=1…周六=7；2：周一=1…周日=7；3：周一=0…周日=6；11–17：以周一…周日为 1"
    summary_en = "Day of the week. Type 1 (default): Sunday=1…Saturday=7; 2: Monday=1…Sunday=7; 3: Monday=0…Sunday=6; 11–17: week starting Monday…Sunday = 1"
    examples = (("WEEKDAY(DATE(2024, 6, 16))", "1"), ("WEEKDAY(DATE(2024, 6, 16), 2)", "7"))

    def python(self, value: Date, kind: Num = None) -> Num:
        code = 1 if kind is None else integer(kind)
        if value is None or code not in WEEKDAY_START:
            return None
        offset = (value.weekday() - WEEKDAY_START[code]) % 7
        return Decimal(offset if code == 3 else offset + 1)


WEEKNUM_START = {1: 6, 2: 0, 11: 0, 12: 1, 13: 2, 14: 3, 15: 4, 16: 5, 17: 6}


class WeekNum(Function):
    name = "WEEKNUM"
    category = "date"
    params = (Param("date", D), Param("return_type", NUM, True))
    returns = NUMBER
    summary_zh = "一年中的第几周：1 月 1 日所在周为第 1 周；类型 1（默认）周日开始，2 周一开始，11–17 同 Excel，21 为 ISO 周"
    summary_en = "Week of the year, the week containing January 1 being week 1; type 1 (default) weeks start Sunday, 2 Monday, 11–17 as Excel, 21 is the ISO week"
    examples = (("WEEKNUM(DATE(2024, 1, 7))", "2"), ("WEEKNUM(DATE(2024, 1, 7), 2)", "1"))

    def python(self, value: Date, kind: Num = None) -> Num:
        code = 1 if kind is None else integer(kind)
        if value is None:
            return None
        if code == 21:
            return Decimal(value.isocalendar()[1])
        if code not in WEEKNUM_START:
            return None
        jan1 = dt.date(value.year, 1, 1)
        shift = (jan1.weekday() - WEEKNUM_START[code]) % 7
        return Decimal((value.timetuple().tm_yday - 1 + shift) // 7 + 1)


class IsoWeekNum(Function):
    name = "ISOWEEKNUM"
    category = "date"
    params = (Param("date", D),)
    returns = NUMBER
    summary_zh = "ISO 8601 周数（周一开始，含 1 月 4 日的周为第 1 周）"
    summary_en = "ISO 8601 week number (weeks start Monday; week 1 contains January 4)"
    examples = (("ISOWEEKNUM(DATE(2024, 12, 30))", "1"),)

    def python(self, value: Date) -> Num:
        return None if value is None else Decimal(value.isocalendar()[1])


def _months_between(start: dt.date, end: dt.date) -> int:
    months = (end.year - start.year) * 12 + end.month - start.month
    if end.day < start.day:
        months -= 1
    return months


class DateDif(Function):
    name = "DATEDIF"
    category = "date"
    params = (Param("start_date", D), Param("end_date", D), Param("unit", ("text",)))
    returns = NUMBER
    summary_zh = (
        '两个日期之间的整年（"Y"）、整月（"M"）、天数（"D"），或忽略年/月后的差（"YM"、"YD"、"MD"）；'
        "开始晚于结束时为空"
    )
    summary_en = (
        'Whole years ("Y"), whole months ("M") or days ("D") between two dates, or the difference ignoring'
        ' years/months ("YM", "YD", "MD"); blank if the start is after the end'
    )
    examples = (
        ('DATEDIF(DATE(2023, 1, 31), DATE(2024, 3, 1), "M")', "13"),
        ('DATEDIF(DATE(2024, 1, 1), DATE(2024, 3, 1), "D")', "60"),
    )

    def python(self, start: Date, end: Date, unit: str | None) -> Num:
        if start is None or end is None or unit is None or start > end:
            return None
        code = unit.upper()
        if code == "D":
            return Decimal((end - start).days)
        months = _months_between(start, end)
        if code == "M":
            return Decimal(months)
        if code == "Y":
            return Decimal(months // 12)
        if code == "YM":
            return Decimal(months % 12)
        if code == "MD":
            days = end.day - start.day
            if days < 0:
                previous = end.replace(day=1) - dt.timedelta(days=1)
                days += calendar.monthrange(previous.year, previous.month)[1]
            return Decimal(days)
        if code == "YD":
            anchor = add_months(start, (end.year - start.year) * 12)
            if anchor is None:
                return None
            if anchor > end:
                anchor = add_months(start, (end.year - start.year - 1) * 12)
                if anchor is None:
                    return None
            return Decimal((end - anchor).days)
        return None


class EDate(Function):
    name = "EDATE"
    category = "date"
    params = (Param("start_date", D), Param("months", NUM))
    returns = DATE
    summary_zh = "若干个月之前/之后的同一天；没有这一天时取月末"
    summary_en = (
        "The same day a number of months before/after; the month end if that day does not exist"
    )
    examples = (
        ("EDATE(DATE(2024, 1, 31), 1)", "2024-02-29"),
        ("EDATE(DATE(2024, 3, 31), -1)", "2024-02-29"),
    )

    def python(self, start: Date, months: Num) -> Date:
        return None if start is None else add_months(start, integer(months))


class EoMonth(Function):
    name = "EOMONTH"
    category = "date"
    params = (Param("start_date", D), Param("months", NUM))
    returns = DATE
    summary_zh = "若干个月之前/之后那个月的最后一天"
    summary_en = "The last day of the month a number of months before/after"
    examples = (("EOMONTH(DATE(2024, 1, 15), 1)", "2024-02-29"),)

    def python(self, start: Date, months: Num) -> Date:
        if start is None:
            return None
        shifted = add_months(start.replace(day=1), integer(months))
        return None if shifted is None else month_end(shifted)


class Days(Function):
    name = "DAYS"
    category = "date"
    params = (Param("end_date", D), Param("start_date", D))
    returns = NUMBER
    summary_zh = "两个日期相差的天数（结束减开始）"
    summary_en = "Days from start_date to end_date (end minus start)"
    examples = (("DAYS(DATE(2024, 3, 1), DATE(2024, 2, 1))", "29"),)

    def python(self, end: Date, start: Date) -> Num:
        if end is None or start is None:
            return None
        return Decimal((end - start).days)


def workdays_until(d: dt.date, shift: int = 0) -> int:
    """Monday–Friday days from a fixed Monday up to and including ``d`` + ``shift`` days."""
    ordinal = (
        d.toordinal() - 1 + shift
    )  # ordinal 1 (0001-01-01) is a Monday; shift so 0 is that Monday
    weeks, rest = divmod(ordinal, 7)
    return weeks * 5 + min(rest + 1, 5)


class NetworkDays(Function):
    name = "NETWORKDAYS"
    category = "date"
    params = (Param("start_date", D), Param("end_date", D))
    returns = NUMBER
    summary_zh = "两个日期之间（含首尾）的工作日（周一至周五）天数；开始晚于结束时为负数"
    summary_en = "Working days (Monday–Friday) between two dates, both included; negative if start is after end"
    examples = (("NETWORKDAYS(DATE(2024, 6, 1), DATE(2024, 6, 30))", "20"),)

    def python(self, start: Date, end: Date) -> Num:
        if start is None or end is None:
            return None
        if start > end:
            return -self.python(end, start)  # type: ignore[operator]
        return Decimal(
            workdays_until(end) - workdays_until(start, -1)
        )  # start - 1 may precede year 1


# Digits are ASCII or full-width (what Chinese input methods type); spaces are ASCII
# whitespace or the ideographic space. Every backend reads exactly these.
_S = "[ \t\n\r\f\v\u3000]"
_D = "[0-9\uff10-\uff19]"
_DATE_TEXT = re.compile(
    rf"{_S}*({_D}{{4}}){_S}*[-/.年]{_S}*({_D}{{1,2}}){_S}*[-/.月]{_S}*({_D}{{1,2}}){_S}*日?"
    rf"(?:[T \t\n\r\f\v\u3000][^\n]*)?"
)
_TIME_TEXT = re.compile(rf"{_S}*({_D}{{1,2}}):({_D}{{2}})(?::({_D}{{2}}))?{_S}*")


class DateValue(Function):
    name = "DATEVALUE"
    category = "date"
    params = (Param("date_text", ("text", "datetime")),)
    returns = DATE
    needs_ctx = True
    summary_zh = "把文本（2024-06-01、2024/6/1、2024年6月1日）或日期时间（按组织时区）转成日期；无法识别时为空"
    summary_en = "A date from text (2024-06-01, 2024/6/1, 2024年6月1日) or from a datetime (organisation's zone); blank if unreadable"
    examples = (('DATEVALUE("2024年6月1日")', "2024-06-01"),)

    def python(self, ctx: EvalContext, value: Any) -> Date:
        if value is None:
            return None
        if isinstance(value, dt.datetime):
            return value.astimezone(ctx.tz).date()
        match = _DATE_TEXT.fullmatch(value)
        if not match:
            return None
        try:
            return dt.date(*(int(g) for g in match.groups()))
        except ValueError:
            return None


class TimeValue(Function):
    name = "TIMEVALUE"
    category = "date"
    params = (Param("time_text", ("text", "datetime")),)
    returns = TIME
    needs_ctx = True
    summary_zh = "把文本（13:45 或 13:45:10）或日期时间（按组织时区）转成时间；无法识别时为空"
    summary_en = "A time from text (13:45 or 13:45:10) or from a datetime (organisation's zone); blank if unreadable"
    examples = (('TIMEVALUE("9:05")', "09:05:00"),)

    def python(self, ctx: EvalContext, value: Any) -> dt.time | None:
        if value is None:
            return None
        if isinstance(value, dt.datetime):
            return value.astimezone(ctx.tz).time().replace(microsecond=0, tzinfo=None)
        match = _TIME_TEXT.fullmatch(value)
        if not match:
            return None
        h, m, s = (int(g) if g else 0 for g in match.groups())
        try:
            return dt.time(h, m, s)
        except ValueError:
            return None


FUNCTIONS: tuple[Function, ...] = (
    Today(),
    Now(),
    DateFn(),
    Year(),
    Month(),
    Day(),
    Hour(),
    Minute(),
    Second(),
    Weekday(),
    WeekNum(),
    IsoWeekNum(),
    DateDif(),
    EDate(),
    EoMonth(),
    Days(),
    NetworkDays(),
    DateValue(),
    TimeValue(),
)
