"""Storage: what the classroom keeps, behind one interface, on SQLite or PostgreSQL (docs/storage.md).

    storage = open_storage(config.database, config.db_path)   # None: SQLite in the data folder

- interface.py  the records, the abstract Storage, its errors
- sql.py        every method once, in portable SQL; sqlite.py and postgres.py add a connection
- dialect.py    the portable SQL rule features write in, and its PostgreSQL form
- migrations.py the core schema's numbered migrations
- copy.py       a SQLite file into PostgreSQL (`dojo db copy`)
"""

from __future__ import annotations

from pathlib import Path

from server.core.storage.interface import (AccountRecord, CarRecord, ClassRecord, DatabaseUnavailable, KidRecord,
                                           RequestLogEntry, SchemaStatus, SchemaTooNew, SessionRecord, Storage,
                                           StorageError)
from server.core.storage.sqlite import SqliteStorage

__all__ = ["AccountRecord", "CarRecord", "ClassRecord", "DatabaseUnavailable", "KidRecord", "RequestLogEntry",
           "SchemaStatus", "SchemaTooNew", "SessionRecord", "SqliteStorage", "Storage", "StorageError", "open_storage",
           "parse_database_url"]

POSTGRES_SCHEMES = ("postgresql://", "postgres://")
SQLITE_SCHEME = "sqlite://"


def parse_database_url(url: str) -> tuple[str, str]:
    """("sqlite", path) or ("postgresql", url); anything else names the two forms."""
    if url.startswith(POSTGRES_SCHEMES):
        return "postgresql", url
    if url.startswith(SQLITE_SCHEME) and len(url) > len(SQLITE_SCHEME) + 1:
        return "sqlite", url[len(SQLITE_SCHEME):]  # sqlite:///abs/path -> /abs/path
    raise ValueError(f"database must be postgresql://user@host:port/name or sqlite:///path/to/file.sqlite3 "
                     f"(got {url.split('@')[-1]!r})")


def open_storage(database: str | None, default_path: Path, *, upgrade: bool = True) -> Storage:
    """The configured database (migrated to this code's schema unless upgrade=False), or SQLite at
    ``default_path``."""
    if database is None:
        return SqliteStorage(default_path, upgrade=upgrade)
    kind, where = parse_database_url(database)
    if kind == "sqlite":
        return SqliteStorage(Path(where), upgrade=upgrade)
    from server.core.storage.postgres import PostgresStorage  # psycopg only when asked for

    return PostgresStorage(where, upgrade=upgrade)
