"""Storage: one small interface for everything the classroom keeps, with a SQLite (WAL) implementation.

The rest of the server talks only to :class:`Storage`, so a PostgreSQL implementation can replace
SQLite later without touching callers. Other features add their own tables through
:meth:`Storage.migrate` (a named, idempotent migration) or keep small JSON documents in the
key-value place (:meth:`kv_put` / :meth:`kv_get`), e.g. programs and progress.

Writes are small single-row statements (microseconds to a millisecond in WAL mode), so they run on
the event loop; the request log is buffered and flushed in a thread by a background task.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from robot_runtime.private_files import create_private
from server.core.kid_names import name_key


@dataclass(frozen=True)
class KidRecord:
    kid_id: str
    class_code: str
    name: str
    level: int


@dataclass(frozen=True)
class ClassRecord:
    code: str
    name: str
    created_at: float


@dataclass(frozen=True)
class CarRecord:
    car_id: str
    kind: str
    last_seen: float


@dataclass(frozen=True)
class AccountRecord:
    """A teacher account (accounts mode): role "admin" or "teacher"; a disabled one cannot log in."""

    username: str
    role: str
    disabled: bool
    created_at: float


@dataclass(frozen=True)
class SessionRecord:
    """A stored teacher session: only the SHA-256 of its id is kept. ``account`` "" is the single-password teacher."""

    id_hash: str
    account: str
    created_at: float
    expires_at: float


@dataclass(frozen=True)
class RequestLogEntry:
    t: float
    kid_id: str
    car_id: str | None
    block: str
    args: dict[str, Any]
    status: str
    detail: str
    duration_s: float


class Storage(ABC):
    """What the classroom keeps. Implementations must survive a restart."""

    # teacher
    @abstractmethod
    def teacher_password_hash(self) -> str | None: ...
    @abstractmethod
    def set_teacher_password_hash(self, value: str) -> None: ...

    # classes and kids
    @abstractmethod
    def create_class(self, code: str, name: str) -> ClassRecord: ...
    @abstractmethod
    def get_class(self, code: str) -> ClassRecord | None: ...
    @abstractmethod
    def list_classes(self) -> list[ClassRecord]: ...
    @abstractmethod
    def find_kid_by_name(self, class_code: str, name: str) -> KidRecord | None: ...
    @abstractmethod
    def add_kid(self, kid_id: str, class_code: str, name: str, level: int) -> KidRecord: ...
    @abstractmethod
    def get_kid(self, kid_id: str) -> KidRecord | None: ...
    @abstractmethod
    def kids_in_class(self, class_code: str) -> list[KidRecord]: ...
    @abstractmethod
    def set_kid_level(self, kid_id: str, level: int) -> None: ...
    @abstractmethod
    def delete_kid(self, kid_id: str) -> bool:
        """Remove the kid, their car assignment and every feature row that references them (returns whether
        the kid existed). Their request-log rows and graded attempts stay in the teacher's records."""

    # cars and assignments
    @abstractmethod
    def upsert_car(self, car_id: str, kind: str) -> None: ...
    @abstractmethod
    def list_cars(self) -> list[CarRecord]: ...
    @abstractmethod
    def assign(self, car_id: str, kid_ids: list[str]) -> None: ...
    @abstractmethod
    def kids_of_car(self, car_id: str) -> list[str]: ...
    @abstractmethod
    def car_of_kid(self, kid_id: str) -> str | None: ...

    # request log
    @abstractmethod
    def log_requests(self, entries: Iterable[RequestLogEntry]) -> None: ...
    @abstractmethod
    def recent_requests(self, limit: int = 100, kid_id: str | None = None) -> list[RequestLogEntry]: ...
    @abstractmethod
    def prune_requests(self, max_rows: int, older_than: float) -> int:
        """Delete rows logged before ``older_than`` (epoch seconds), then all but the newest ``max_rows``;
        returns how many went."""

    # key-value documents for features (programs, progress, ...)
    @abstractmethod
    def kv_put(self, namespace: str, key: str, value: Any) -> None: ...
    @abstractmethod
    def kv_get(self, namespace: str, key: str, default: Any = None) -> Any: ...
    @abstractmethod
    def kv_items(self, namespace: str, prefix: str = "") -> list[tuple[str, Any]]: ...
    @abstractmethod
    def kv_delete(self, namespace: str, key: str) -> None: ...

    # --- teacher accounts, stored sessions, who owns which class and car (issue 14) ---------------
    # Kept apart from the rest so that other backends can port them as one block; plain SQL types only.
    @abstractmethod
    def add_account(self, username: str, password_hash: str, role: str) -> AccountRecord: ...
    @abstractmethod
    def get_account(self, username: str) -> AccountRecord | None: ...
    @abstractmethod
    def account_password_hash(self, username: str) -> str | None: ...
    @abstractmethod
    def list_accounts(self) -> list[AccountRecord]: ...
    @abstractmethod
    def count_accounts(self) -> int: ...
    @abstractmethod
    def set_account_disabled(self, username: str, disabled: bool) -> bool: ...
    @abstractmethod
    def set_account_password_hash(self, username: str, password_hash: str) -> bool: ...
    @abstractmethod
    def delete_account(self, username: str) -> bool:
        """Remove the account, its sessions and its class ownerships (its classes stay, owned by nobody: the
        admin's until given to another teacher)."""

    @abstractmethod
    def put_session(self, record: SessionRecord) -> None: ...
    @abstractmethod
    def get_session(self, id_hash: str) -> SessionRecord | None: ...
    @abstractmethod
    def delete_session(self, id_hash: str) -> bool: ...
    @abstractmethod
    def delete_sessions_of(self, account: str) -> int:
        """Log the account out everywhere; returns how many sessions ended."""
    @abstractmethod
    def delete_expired_sessions(self, now: float) -> int: ...

    @abstractmethod
    def set_class_owner(self, class_code: str, account: str | None) -> None: ...
    @abstractmethod
    def class_owner(self, class_code: str) -> str | None: ...
    @abstractmethod
    def set_car_class(self, car_id: str, class_code: str | None) -> None: ...
    @abstractmethod
    def car_class(self, car_id: str) -> str | None: ...
    @abstractmethod
    def recent_requests_of(self, kid_ids: list[str], limit: int = 100) -> list[RequestLogEntry]:
        """The newest request-log rows of these kids (a teacher's classes), newest first."""

    # extension point for feature tables
    @abstractmethod
    def migrate(self, name: str, statements: str) -> bool:
        """Apply a named migration once (returns True if it ran now). Names: "<feature>:<n>"."""

    @abstractmethod
    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Run one statement on a feature's own tables; returns the rows."""

    @abstractmethod
    def close(self) -> None: ...


_CORE_SCHEMA = """
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
"""

# Teacher accounts and stored sessions (issue 14): a named migration, so a database of an older version
# gains them on its first start. No foreign keys to classes or cars: a car is owned before it ever connects.
TEACHERS_MIGRATION = "teachers:1"
_TEACHERS_SCHEMA = """
CREATE TABLE IF NOT EXISTS teacher_accounts (
    username TEXT PRIMARY KEY, password_hash TEXT NOT NULL, role TEXT NOT NULL, disabled INTEGER NOT NULL,
    created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS teacher_sessions (
    id_hash TEXT PRIMARY KEY, account TEXT NOT NULL, created_at REAL NOT NULL, expires_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS teacher_sessions_account ON teacher_sessions (account);
CREATE TABLE IF NOT EXISTS class_owners (class_code TEXT PRIMARY KEY, account TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS class_owners_account ON class_owners (account);
CREATE TABLE IF NOT EXISTS car_classes (car_id TEXT PRIMARY KEY, class_code TEXT NOT NULL)
"""


class SqliteStorage(Storage):
    """SQLite in WAL mode; one connection guarded by a lock (the flush thread shares it)."""

    def __init__(self, path: str | Path) -> None:
        if str(path) != ":memory:":
            create_private(path)  # 0600 in a 0700 folder before SQLite opens it; -wal and -shm copy its mode
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across app crashes, fast
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.executescript(_CORE_SCHEMA)
            self._rekey_names()
        self.migrate(TEACHERS_MIGRATION, _TEACHERS_SCHEMA)

    def _rekey_names(self) -> None:
        """Kids stored by an older version (key: the name case folded) get today's look-alike key; two old
        kids whose names look alike keep their old keys (both stay; the teacher sees both on the roster)."""
        for kid_id, name, key in self._db.execute("SELECT kid_id, name, name_key FROM kids").fetchall():
            if key != name_key(name):
                try:
                    self._db.execute("UPDATE kids SET name_key = ? WHERE kid_id = ?", (name_key(name), kid_id))
                except sqlite3.IntegrityError:
                    pass

    def _q(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    # teacher
    def teacher_password_hash(self) -> str | None:
        rows = self._q("SELECT password_hash FROM teacher WHERE id = 1")
        return rows[0][0] if rows else None

    def set_teacher_password_hash(self, value: str) -> None:
        self._q("INSERT INTO teacher (id, password_hash) VALUES (1, ?) "
                "ON CONFLICT(id) DO UPDATE SET password_hash = excluded.password_hash", (value,))

    # classes and kids
    def create_class(self, code: str, name: str) -> ClassRecord:
        now = time.time()
        self._q("INSERT INTO classes (code, name, created_at) VALUES (?, ?, ?)", (code, name, now))
        return ClassRecord(code, name, now)

    def get_class(self, code: str) -> ClassRecord | None:
        rows = self._q("SELECT code, name, created_at FROM classes WHERE code = ?", (code,))
        return ClassRecord(*rows[0]) if rows else None

    def list_classes(self) -> list[ClassRecord]:
        return [ClassRecord(*r) for r in self._q("SELECT code, name, created_at FROM classes ORDER BY created_at")]

    def find_kid_by_name(self, class_code: str, name: str) -> KidRecord | None:
        rows = self._q("SELECT kid_id, class_code, name, level FROM kids WHERE class_code = ? AND name_key = ?",
                       (class_code, name_key(name)))
        return KidRecord(*rows[0]) if rows else None

    def add_kid(self, kid_id: str, class_code: str, name: str, level: int) -> KidRecord:
        self._q("INSERT INTO kids (kid_id, class_code, name, name_key, level, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (kid_id, class_code, name, name_key(name), level, time.time()))
        return KidRecord(kid_id, class_code, name, level)

    def get_kid(self, kid_id: str) -> KidRecord | None:
        rows = self._q("SELECT kid_id, class_code, name, level FROM kids WHERE kid_id = ?", (kid_id,))
        return KidRecord(*rows[0]) if rows else None

    def kids_in_class(self, class_code: str) -> list[KidRecord]:
        return [KidRecord(*r) for r in self._q(
            "SELECT kid_id, class_code, name, level FROM kids WHERE class_code = ? ORDER BY created_at", (class_code,))]

    def set_kid_level(self, kid_id: str, level: int) -> None:
        self._q("UPDATE kids SET level = ? WHERE kid_id = ?", (level, kid_id))

    def delete_kid(self, kid_id: str) -> bool:
        with self._lock:
            cur = self._db.cursor()
            cur.execute("BEGIN")
            try:
                # every table whose foreign key points at kids (assignments, features' saved programs, ...)
                tables = [r[0] for r in cur.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()]
                for table in tables:
                    for fk in cur.execute(f'PRAGMA foreign_key_list("{table}")').fetchall():
                        if fk[2] == "kids":  # (id, seq, table, from, to, ...)
                            cur.execute(f'DELETE FROM "{table}" WHERE "{fk[3]}" = ?', (kid_id,))
                gone = cur.execute("DELETE FROM kids WHERE kid_id = ?", (kid_id,)).rowcount
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise
        return gone > 0

    # cars and assignments
    def upsert_car(self, car_id: str, kind: str) -> None:
        self._q("INSERT INTO cars (car_id, kind, last_seen) VALUES (?, ?, ?) "
                "ON CONFLICT(car_id) DO UPDATE SET kind = excluded.kind, last_seen = excluded.last_seen",
                (car_id, kind, time.time()))

    def list_cars(self) -> list[CarRecord]:
        return [CarRecord(*r) for r in self._q("SELECT car_id, kind, last_seen FROM cars ORDER BY car_id")]

    def assign(self, car_id: str, kid_ids: list[str]) -> None:
        """The car's kids become exactly these (in this order); each kid leaves any other car."""
        with self._lock:
            cur = self._db.cursor()
            cur.execute("BEGIN")
            try:
                cur.execute("DELETE FROM assignments WHERE car_id = ?", (car_id,))
                for position, kid_id in enumerate(kid_ids):
                    cur.execute("INSERT INTO assignments (kid_id, car_id, position) VALUES (?, ?, ?) "
                                "ON CONFLICT(kid_id) DO UPDATE SET car_id = excluded.car_id, position = excluded.position",
                                (kid_id, car_id, position))
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise

    def kids_of_car(self, car_id: str) -> list[str]:
        return [r[0] for r in self._q("SELECT kid_id FROM assignments WHERE car_id = ? ORDER BY position", (car_id,))]

    def car_of_kid(self, kid_id: str) -> str | None:
        rows = self._q("SELECT car_id FROM assignments WHERE kid_id = ?", (kid_id,))
        return rows[0][0] if rows else None

    # request log
    def log_requests(self, entries: Iterable[RequestLogEntry]) -> None:
        rows = [(e.t, e.kid_id, e.car_id, e.block, json.dumps(e.args), e.status, e.detail, e.duration_s) for e in entries]
        if not rows:
            return
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany("INSERT INTO request_log (t, kid_id, car_id, block, args, status, detail, duration_s) "
                                 "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
            self._db.execute("COMMIT")

    def recent_requests(self, limit: int = 100, kid_id: str | None = None) -> list[RequestLogEntry]:
        where, params = ("WHERE kid_id = ?", (kid_id,)) if kid_id else ("", ())
        rows = self._q(f"SELECT t, kid_id, car_id, block, args, status, detail, duration_s FROM request_log {where} "
                       "ORDER BY id DESC LIMIT ?", (*params, limit))
        return [RequestLogEntry(r[0], r[1], r[2], r[3], json.loads(r[4]), r[5], r[6], r[7]) for r in rows]

    def prune_requests(self, max_rows: int, older_than: float) -> int:
        with self._lock:
            cur = self._db.cursor()
            gone = cur.execute("DELETE FROM request_log WHERE t < ?", (older_than,)).rowcount
            newest = cur.execute("SELECT MAX(id) FROM request_log").fetchone()[0]
            if newest is not None:
                gone += cur.execute("DELETE FROM request_log WHERE id <= ?", (newest - max_rows,)).rowcount
        return gone

    # key-value
    def kv_put(self, namespace: str, key: str, value: Any) -> None:
        self._q("INSERT INTO kv (ns, key, value, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(ns, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                (namespace, key, json.dumps(value), time.time()))

    def kv_get(self, namespace: str, key: str, default: Any = None) -> Any:
        rows = self._q("SELECT value FROM kv WHERE ns = ? AND key = ?", (namespace, key))
        return json.loads(rows[0][0]) if rows else default

    def kv_items(self, namespace: str, prefix: str = "") -> list[tuple[str, Any]]:
        rows = self._q("SELECT key, value FROM kv WHERE ns = ? AND substr(key, 1, ?) = ? ORDER BY key",
                       (namespace, len(prefix), prefix))
        return [(k, json.loads(v)) for k, v in rows]

    def kv_delete(self, namespace: str, key: str) -> None:
        self._q("DELETE FROM kv WHERE ns = ? AND key = ?", (namespace, key))

    # --- teacher accounts, stored sessions, ownership (issue 14) ------------------------------

    def add_account(self, username: str, password_hash: str, role: str) -> AccountRecord:
        now = time.time()
        self._q("INSERT INTO teacher_accounts (username, password_hash, role, disabled, created_at) VALUES (?, ?, ?, 0, ?)",
                (username, password_hash, role, now))
        return AccountRecord(username, role, False, now)

    def get_account(self, username: str) -> AccountRecord | None:
        rows = self._q("SELECT username, role, disabled, created_at FROM teacher_accounts WHERE username = ?", (username,))
        return AccountRecord(rows[0][0], rows[0][1], bool(rows[0][2]), rows[0][3]) if rows else None

    def account_password_hash(self, username: str) -> str | None:
        rows = self._q("SELECT password_hash FROM teacher_accounts WHERE username = ?", (username,))
        return rows[0][0] if rows else None

    def list_accounts(self) -> list[AccountRecord]:
        return [AccountRecord(r[0], r[1], bool(r[2]), r[3]) for r in self._q(
            "SELECT username, role, disabled, created_at FROM teacher_accounts ORDER BY username")]

    def count_accounts(self) -> int:
        return int(self._q("SELECT COUNT(*) FROM teacher_accounts")[0][0])

    def set_account_disabled(self, username: str, disabled: bool) -> bool:
        with self._lock:
            return self._db.execute("UPDATE teacher_accounts SET disabled = ? WHERE username = ?",
                                    (1 if disabled else 0, username)).rowcount > 0

    def set_account_password_hash(self, username: str, password_hash: str) -> bool:
        with self._lock:
            return self._db.execute("UPDATE teacher_accounts SET password_hash = ? WHERE username = ?",
                                    (password_hash, username)).rowcount > 0

    def delete_account(self, username: str) -> bool:
        with self._lock:
            cur = self._db.cursor()
            cur.execute("BEGIN")
            try:
                cur.execute("DELETE FROM teacher_sessions WHERE account = ?", (username,))
                cur.execute("DELETE FROM class_owners WHERE account = ?", (username,))
                gone = cur.execute("DELETE FROM teacher_accounts WHERE username = ?", (username,)).rowcount
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise
        return gone > 0

    def put_session(self, record: SessionRecord) -> None:
        self._q("INSERT INTO teacher_sessions (id_hash, account, created_at, expires_at) VALUES (?, ?, ?, ?)",
                (record.id_hash, record.account, record.created_at, record.expires_at))

    def get_session(self, id_hash: str) -> SessionRecord | None:
        rows = self._q("SELECT id_hash, account, created_at, expires_at FROM teacher_sessions WHERE id_hash = ?",
                       (id_hash,))
        return SessionRecord(*rows[0]) if rows else None

    def delete_session(self, id_hash: str) -> bool:
        with self._lock:
            return self._db.execute("DELETE FROM teacher_sessions WHERE id_hash = ?", (id_hash,)).rowcount > 0

    def delete_sessions_of(self, account: str) -> int:
        with self._lock:
            return self._db.execute("DELETE FROM teacher_sessions WHERE account = ?", (account,)).rowcount

    def delete_expired_sessions(self, now: float) -> int:
        with self._lock:
            return self._db.execute("DELETE FROM teacher_sessions WHERE expires_at < ?", (now,)).rowcount

    def set_class_owner(self, class_code: str, account: str | None) -> None:
        if account is None:
            self._q("DELETE FROM class_owners WHERE class_code = ?", (class_code,))
        else:
            self._q("INSERT INTO class_owners (class_code, account) VALUES (?, ?) "
                    "ON CONFLICT(class_code) DO UPDATE SET account = excluded.account", (class_code, account))

    def class_owner(self, class_code: str) -> str | None:
        rows = self._q("SELECT account FROM class_owners WHERE class_code = ?", (class_code,))
        return rows[0][0] if rows else None

    def set_car_class(self, car_id: str, class_code: str | None) -> None:
        if class_code is None:
            self._q("DELETE FROM car_classes WHERE car_id = ?", (car_id,))
        else:
            self._q("INSERT INTO car_classes (car_id, class_code) VALUES (?, ?) "
                    "ON CONFLICT(car_id) DO UPDATE SET class_code = excluded.class_code", (car_id, class_code))

    def car_class(self, car_id: str) -> str | None:
        rows = self._q("SELECT class_code FROM car_classes WHERE car_id = ?", (car_id,))
        return rows[0][0] if rows else None

    def recent_requests_of(self, kid_ids: list[str], limit: int = 100) -> list[RequestLogEntry]:
        if not kid_ids:
            return []
        marks = ", ".join("?" for _ in kid_ids)
        rows = self._q(f"SELECT t, kid_id, car_id, block, args, status, detail, duration_s FROM request_log "
                       f"WHERE kid_id IN ({marks}) ORDER BY id DESC LIMIT ?", (*kid_ids, limit))
        return [RequestLogEntry(r[0], r[1], r[2], r[3], json.loads(r[4]), r[5], r[6], r[7]) for r in rows]

    # migrations for feature tables
    def migrate(self, name: str, statements: str) -> bool:
        with self._lock:
            if self._db.execute("SELECT 1 FROM migrations WHERE name = ?", (name,)).fetchone():
                return False
            self._db.executescript(f"BEGIN; {statements}; COMMIT;")
            self._db.execute("INSERT INTO migrations (name, applied_at) VALUES (?, ?)", (name, time.time()))
            return True

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        return self._q(sql, params)

    def close(self) -> None:
        with self._lock:
            self._db.close()
