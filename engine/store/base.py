"""The declarative base of the platform tables and the names that are not theirs.

Platform tables live on ``Base.metadata`` and change only through Alembic migrations.
Record tables (``r{form_id}``, ``r{form_id}_s{field_id}``, ``l{field_id}``) are created at
run time on their own ``MetaData``; :data:`RECORD_TABLE_NAME` tells them apart so that
autogenerate never proposes to touch them.
"""

from __future__ import annotations

import re

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

RECORD_TABLE_NAME = re.compile(r"^(r\d+(_s\d+)?|l\d+)$")


def is_record_table(name: str) -> bool:
    """Whether `name` is a physical record table, subform table or link table."""
    return RECORD_TABLE_NAME.match(name) is not None


class Base(DeclarativeBase):
    """Base class of every platform model; its MetaData names constraints by convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
