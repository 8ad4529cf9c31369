"""Storage: platform tables (SQLAlchemy models + Alembic migrations), engines and sessions.

Record tables (one per form, created at run time) will live here too, on their own MetaData.
"""

from engine.store.base import RECORD_TABLE_NAME, Base
from engine.store.session import engine_for_url, make_engine, make_sessionmaker, prepare_database

__all__ = [
    "RECORD_TABLE_NAME",
    "Base",
    "engine_for_url",
    "make_engine",
    "make_sessionmaker",
    "prepare_database",
]
