"""File field types: attachment, image, signature (JSON arrays of file references)."""

from __future__ import annotations

from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.types import TypeEngine

from engine.core.issues import Issue
from engine.forms.common import FieldSpecBase, ValueFieldSpec
from engine.forms.field_types.base import FIELD_TYPES, FieldType, Traits, register
from engine.forms.field_types.cells import Cell, CellWriter
from engine.store.files import IMAGE_MIMES

FILES = Traits(
    computed=False,
    portable=True,
    sortable=False,
    many_valued=True,
    is_file=True,
    refers_to=None,
    publicly_fillable=True,  # through the link's own upload (top-level fields only)
    link_key=False,
    importable=False,
    live_scalar=False,
    source="column",
    linkage_from=frozenset(),
    compare_family=None,
)
"""Uploaded files: a JSON array of file references."""


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

    def to_cell(self, field: FieldSpecBase, value: Any, sheet: CellWriter) -> Cell:
        """The files' names."""
        return sheet.join(
            str(i.get("name") or i.get("file_id")) for i in value if isinstance(i, dict)
        ), None


@register
class AttachmentType(_FilesType):
    """`attachment`: any files."""

    name = "attachment"
    title = ("附件", "Attachment")
    spec = AttachmentField
    traits = FILES


@register
class ImageType(_FilesType):
    """`image`: image files."""

    name = "image"
    title = ("图片", "Image")
    spec = ImageField
    traits = FILES


@register
class SignatureType(_FilesType):
    """`signature`: a signature image."""

    name = "signature"
    title = ("手写签名", "Signature")
    spec = SignatureField
    traits = FILES


def file_types() -> tuple[str, ...]:
    """The names of every registered type whose values are files (`traits.is_file`)."""
    return tuple(kind.name for kind in FIELD_TYPES if kind.traits.is_file)


def is_file_type(name: object) -> bool:
    """Whether `name` (a stored type name, maybe of a type no longer registered) holds files."""
    kind = FIELD_TYPES.get(name) if isinstance(name, str) else None
    return kind is not None and kind.traits.is_file
