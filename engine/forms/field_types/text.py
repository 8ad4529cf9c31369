"""Text field types: text, textarea, rich_text, email, phone, url (stored as TEXT).

Each type has a ceiling on a value's length in code points (`ceiling`: 1,000 for a line of
text and a phone number, 254 for an e-mail address, 2,048 for a URL, 50,000 for a textarea,
200,000 for rich text), so no single value can grow a record without bound; a field's own
`max` applies where it is lower. A longer value is the field-level issue `max_length`."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

from sqlalchemy.types import TypeEngine

from engine.core.issues import Issue
from engine.core.sqltypes import Text
from engine.forms import patterns
from engine.forms.common import FieldSpecBase, ValueFieldSpec
from engine.forms.field_types.base import FieldType, Traits, register, same
from engine.forms.field_types.values import Result, fail, plain
from engine.forms.messages import issue

EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(?:\.[^@\s.]+)+")
PHONE = re.compile(r"1[3-9][0-9]{9}|0[0-9]{2,3}-?[0-9]{7,8}")
TEXT_LIKE = frozenset({"text", "textarea", "email", "phone", "url", "select", "serial"})
"""Types whose values read as one line of text (a linkage copies and compares them as text)."""
TEXT = Traits(
    computed=False,
    portable=True,
    sortable=True,
    many_valued=False,
    is_file=False,
    refers_to=None,
    publicly_fillable=True,
    link_key=True,
    importable=True,
    live_scalar=True,
    source="column",
    linkage_from=TEXT_LIKE,
    compare_family="text",
)


class TextField(ValueFieldSpec):
    """A single line of text."""

    type: Literal["text"]


class TextareaField(ValueFieldSpec):
    """Several lines of plain text."""

    type: Literal["textarea"]


class RichTextField(ValueFieldSpec):
    """Formatted text (sanitised HTML)."""

    type: Literal["rich_text"]


class EmailField(ValueFieldSpec):
    """An e-mail address."""

    type: Literal["email"]


class PhoneField(ValueFieldSpec):
    """A phone number (mobile or landline)."""

    type: Literal["phone"]


class UrlField(ValueFieldSpec):
    """A web address."""

    type: Literal["url"]


class _TextType(FieldType):
    group = "text"
    format_code: ClassVar[str | None] = None  # the issue code of a malformed value
    ceiling: ClassVar[int] = 1_000  # the most code points any field of this type holds

    def column_type(self, field: FieldSpecBase) -> TypeEngine[Any] | None:
        return Text()

    def coerce(self, field: FieldSpecBase, raw: Any) -> tuple[Any, list[Issue]]:
        """A string ("" is blank), checked for NUL, its format, `min`/`max` length and `pattern`."""
        if raw is None or raw == "":
            return None, []
        if not isinstance(raw, str):
            return fail("expected_text")
        high = self.longest(field)
        if len(raw) > self.ceiling:  # before any other check reads the whole value
            return fail("max_length", max=plain(high))
        if "\x00" in raw:
            return fail("nul_character")
        if self.format_code is not None and not self.well_formed(raw):
            return fail(self.format_code)
        low = getattr(field, "min", None)
        if low is not None and len(raw) < low:
            return fail("min_length", min=plain(low))
        if len(raw) > high:
            return fail("max_length", max=plain(high))
        pattern = getattr(field, "pattern", None)
        if pattern is not None and not patterns.matches(pattern, raw):  # RE2: linear time
            return None, [issue("", "pattern", pattern=pattern)]
        return raw, []

    def coercer(self, field: FieldSpecBase) -> Callable[[Any], Result]:
        """Accepts plain, well-formed text within the bounds at once; the rest goes to `coerce`."""
        low, high = getattr(field, "min", None), self.longest(field)
        if getattr(field, "pattern", None) is not None:
            return super().coercer(field)
        checked = self.format_code is not None
        well_formed = self.well_formed

        def coerce(raw: Any) -> Result:
            if (
                type(raw) is str
                and raw
                and "\x00" not in raw
                and len(raw) <= high
                and (low is None or len(raw) >= low)
                and (not checked or well_formed(raw))
            ):
                return raw, []
            return self.coerce(field, raw)

        return coerce

    def json_writer(self, field: FieldSpecBase) -> Callable[[Any], Any]:
        return same

    def longest(self, field: FieldSpecBase) -> float:
        """The most code points a value of `field` may have: its `max`, at most the type's ceiling."""
        high = getattr(field, "max", None)
        return self.ceiling if high is None else min(high, self.ceiling)

    def well_formed(self, text: str) -> bool:
        """Whether `text` has this type's format (email, phone, url)."""
        return True

    def convert_from(self, field: FieldSpecBase, raw: Any) -> Any:
        """Any value as text: lists joined with ", ", an address as 省市区 + detail (other
        objects as JSON), 是/否 for a checkbox."""
        if isinstance(raw, str):
            return raw
        if isinstance(raw, list):
            return ", ".join(str(v) for v in raw)
        if isinstance(raw, dict):
            return "".join(
                str(raw.get(k) or "") for k in ("province", "city", "district", "detail")
            ) or json.dumps(raw, ensure_ascii=False)
        if isinstance(raw, bool):
            return "是" if raw else "否"
        return str(raw)


@register
class TextType(_TextType):
    """`text`: a single line; may be a form's title."""

    name = "text"
    title = ("单行文本", "Text")
    spec = TextField
    traits = TEXT
    titleable = True


@register
class TextareaType(_TextType):
    """`textarea`: multi-line plain text."""

    name = "textarea"
    title = ("多行文本", "Long text")
    spec = TextareaField
    traits = replace(TEXT, link_key=False)
    ceiling = 50_000


@register
class RichTextType(_TextType):
    """`rich_text`: formatted text."""

    name = "rich_text"
    title = ("富文本", "Rich text")
    spec = RichTextField
    traits = replace(
        TEXT,
        link_key=False,
        live_scalar=False,
        linkage_from=frozenset({"rich_text", "text", "textarea"}),
        compare_family=None,
    )
    ceiling = 200_000


@register
class EmailType(_TextType):
    """`email`: an e-mail address; may be a title."""

    name = "email"
    title = ("邮箱", "Email")
    spec = EmailField
    traits = replace(TEXT, linkage_from=frozenset({"email", "text", "textarea"}))
    titleable = True
    ceiling = 254
    format_code = "invalid_email"

    def well_formed(self, text: str) -> bool:
        """A simple well-formed address: local@domain.tld, at most 254 characters."""
        return len(text) <= 254 and EMAIL.fullmatch(text) is not None


@register
class PhoneType(_TextType):
    """`phone`: a phone number; may be a title."""

    name = "phone"
    title = ("电话", "Phone")
    spec = PhoneField
    traits = replace(TEXT, linkage_from=frozenset({"phone", "text", "textarea"}))
    titleable = True
    format_code = "invalid_phone"

    def well_formed(self, text: str) -> bool:
        """A Chinese mobile (1[3-9] and 9 digits) or landline (0 + area code, 7-8 digits)."""
        return PHONE.fullmatch(text) is not None


@register
class UrlType(_TextType):
    """`url`: a web address; may be a title."""

    name = "url"
    title = ("网址", "URL")
    spec = UrlField
    traits = replace(TEXT, linkage_from=frozenset({"url", "text", "textarea"}))
    titleable = True
    ceiling = 2_048
    format_code = "invalid_url"

    def well_formed(self, text: str) -> bool:
        """An http or https address with a host and no whitespace."""
        if any(c.isspace() for c in text) or len(text) > 2048:
            return False
        try:
            parts = urlsplit(text)
            return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)
        except ValueError:
            return False
