"""Text field types: text, textarea, rich_text, email, phone, url (stored as TEXT)."""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy.types import TypeEngine

from engine.core.sqltypes import Text
from engine.forms.common import FieldSpecBase, ValueFieldSpec
from engine.forms.field_types.base import FieldType, register


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

    def column_type(self, field: FieldSpecBase) -> TypeEngine[Any] | None:
        return Text()


@register
class TextType(_TextType):
    """`text`: a single line; may be a form's title."""

    name = "text"
    spec = TextField
    titleable = True


@register
class TextareaType(_TextType):
    """`textarea`: multi-line plain text."""

    name = "textarea"
    spec = TextareaField


@register
class RichTextType(_TextType):
    """`rich_text`: formatted text."""

    name = "rich_text"
    spec = RichTextField


@register
class EmailType(_TextType):
    """`email`: an e-mail address; may be a title."""

    name = "email"
    spec = EmailField
    titleable = True


@register
class PhoneType(_TextType):
    """`phone`: a phone number; may be a title."""

    name = "phone"
    spec = PhoneField
    titleable = True


@register
class UrlType(_TextType):
    """`url`: a web address; may be a title."""

    name = "url"
    spec = UrlField
    titleable = True
