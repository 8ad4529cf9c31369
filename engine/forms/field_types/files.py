"""File field types: attachment, image, signature (JSON arrays of file references)."""

from __future__ import annotations

from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.types import TypeEngine

from engine.forms.common import FieldSpecBase, ValueFieldSpec
from engine.forms.field_types.base import FieldType, register


class AttachmentField(ValueFieldSpec):
    """Uploaded files of any kind."""

    type: Literal["attachment"]


class ImageField(ValueFieldSpec):
    """Uploaded images."""

    type: Literal["image"]


class SignatureField(ValueFieldSpec):
    """A handwritten signature drawn on screen."""

    type: Literal["signature"]


class _FilesType(FieldType):
    group = "files"

    def column_type(self, field: FieldSpecBase) -> TypeEngine[Any] | None:
        return sa.JSON()


@register
class AttachmentType(_FilesType):
    """`attachment`: any files."""

    name = "attachment"
    spec = AttachmentField


@register
class ImageType(_FilesType):
    """`image`: image files."""

    name = "image"
    spec = ImageField


@register
class SignatureType(_FilesType):
    """`signature`: a signature image."""

    name = "signature"
    spec = SignatureField
