"""File field types: attachment, image, signature (JSON arrays of file references)."""

from __future__ import annotations

from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.types import TypeEngine

from engine.core.issues import Issue
from engine.forms.common import FieldSpecBase, ValueFieldSpec
from engine.forms.field_types.base import FieldType, register
from engine.store.files import IMAGE_MIMES


def mime_problem(field_type: str, mime: str) -> str | None:
    """The issue code when a file of type `mime` may not go into a `field_type` field: image
    fields take raster images, signatures only PNG (the pad's output); attachments take anything."""
    if field_type == "image" and mime not in IMAGE_MIMES:
        return "not_an_image"
    if field_type == "signature" and mime != "image/png":
        return "signature_not_png"
    return None


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

    def coerce(self, field: FieldSpecBase, raw: Any) -> tuple[Any, list[Issue]]:
        """Passed through unchanged: the record pipeline resolves and checks file ids (uploads from `POST /files`)."""
        return raw, []


@register
class AttachmentType(_FilesType):
    """`attachment`: any files."""

    name = "attachment"
    title = ("附件", "Attachment")
    spec = AttachmentField


@register
class ImageType(_FilesType):
    """`image`: image files."""

    name = "image"
    title = ("图片", "Image")
    spec = ImageField


@register
class SignatureType(_FilesType):
    """`signature`: a signature image."""

    name = "signature"
    title = ("手写签名", "Signature")
    spec = SignatureField
