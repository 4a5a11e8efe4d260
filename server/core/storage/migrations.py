"""The core schema's versioned migrations, in portable SQL (.dialect), for both backends.

Each migration has a number; ``schema_version`` records which ran (and when). Opening a database applies
the missing ones in order, each in its own transaction, under a lock that other server processes on the
same database wait for (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: an advisory lock), so two processes
starting at once apply each migration exactly once. A database whose version is higher than
:data:`LATEST` was migrated by a newer MIKRO-DOJO: :func:`refuse_newer` stops the server before it writes.

Version 1 is the schema every MIKRO-DOJO before versioned migrations created (``CREATE TABLE IF NOT
EXISTS``): on such a database it changes nothing and only records itself, so every class, kid, level,
attempt and grade stays as it was (tests/server/core/test_storage_upgrade.py opens one made by that code).

To change the schema: append a Migration with the next number, never edit one that has shipped.
Features keep their own tables with ``Storage.migrate("<feature>:<n>", ...)`` (numbered per feature).
"""

from __future__ import annotations

from dataclasses import dataclass

from server.core.storage.interface import SchemaTooNew


@dataclass(frozen=True)
class Migration:
    version: int
    what: str  # one line for `dojo db status`
    sql: str  # portable SQL, one or more statements


VERSION_TABLE = ("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, what TEXT NOT NULL, "
                 "applied_at REAL NOT NULL)")

CORE_MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "classes, kids, cars, assignments, request log, key-value place, feature migrations", """
CREATE TABLE IF NOT EXISTS teacher (id INTEGER PRIMARY KEY CHECK (id = 1), password_hash TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS classes (code TEXT PRIMARY KEY, name TEXT NOT NULL, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS kids (
    kid_id TEXT PRIMARY KEY, class_code TEXT NOT NULL REFERENCES classes(code), name TEXT NOT NULL,
    name_key TEXT NOT NULL, level INTEGER NOT NULL, created_at REAL NOT NULL,
    UNIQUE (class_code, name_key));
CREATE TABLE IF NOT EXISTS cars (car_id TEXT PRIMARY KEY, kind TEXT NOT NULL, last_seen REAL NOT NULL);
CREATE TABLE IF NOT EXISTS assignments (
    kid_id TEXT PRIMARY KEY REFERENCES kids(kid_id), car_id TEXT NOT NULL, position INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS request_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT, t REAL NOT NULL, kid_id TEXT NOT NULL, car_id TEXT,
    block TEXT NOT NULL, args TEXT NOT NULL, status TEXT NOT NULL, detail TEXT NOT NULL, duration_s REAL NOT NULL);
CREATE INDEX IF NOT EXISTS request_log_kid ON request_log (kid_id, id);
CREATE TABLE IF NOT EXISTS kv (ns TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, updated_at REAL NOT NULL,
    PRIMARY KEY (ns, key));
CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL);
"""),
    # Teacher accounts and stored sessions (issue 14). No foreign keys to classes or cars: a car is owned
    # before it ever connects. A database where the teachers' code made these tables as "teachers:1"
    # keeps them (IF NOT EXISTS) and only records version 2.
    Migration(2, "teacher accounts, stored teacher sessions, who owns which class and car", """
CREATE TABLE IF NOT EXISTS teacher_accounts (
    username TEXT PRIMARY KEY, password_hash TEXT NOT NULL, role TEXT NOT NULL, disabled INTEGER NOT NULL,
    created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS teacher_sessions (
    id_hash TEXT PRIMARY KEY, account TEXT NOT NULL, created_at REAL NOT NULL, expires_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS teacher_sessions_account ON teacher_sessions (account);
CREATE TABLE IF NOT EXISTS class_owners (class_code TEXT PRIMARY KEY, account TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS class_owners_account ON class_owners (account);
CREATE TABLE IF NOT EXISTS car_classes (car_id TEXT PRIMARY KEY, class_code TEXT NOT NULL)
"""),
)

LATEST = CORE_MIGRATIONS[-1].version


def check_numbering(migrations: tuple[Migration, ...]) -> None:
    """1, 2, 3, ... without gaps: a gap or a repeat is a programming error, caught by the first test."""
    numbers = [m.version for m in migrations]
    assert numbers == list(range(1, len(numbers) + 1)), f"core migrations must be numbered 1..n (got {numbers})"


def refuse_newer(version: int, latest: int, where: str) -> None:
    if version > latest:
        raise SchemaTooNew(
            f"rule schema_version: the database {where} has schema version {version}, newer than this "
            f"MIKRO-DOJO's {latest} (it was upgraded by a newer release). Refusing to start rather than write "
            f"into a schema this code does not know. Fix: run the newer release (pip install -U mikro-dojo), "
            f"or point --database at a backup made before the upgrade.")


def feature_parts(name: str) -> tuple[str, int]:
    """"attempts:2" -> ("attempts", 2); anything else is a programming error in the feature."""
    feature, _, number = name.rpartition(":")
    if not feature or not number.isdigit() or int(number) < 1:
        raise ValueError(f"feature migration names are '<feature>:<n>' with n = 1, 2, ... (got {name!r})")
    return feature, int(number)
