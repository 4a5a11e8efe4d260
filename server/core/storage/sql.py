"""The Storage interface written once in portable SQL (.dialect); a backend adds a connection and a few hooks.

Both backends keep one connection guarded by a lock (the request log's flush thread shares it) and run
each call as one statement in autocommit mode, or as one transaction where several statements must
agree (assign, delete_kid, a batch of log rows, a migration). Nothing is cached in memory: every call
asks the database, so several server processes on one PostgreSQL database see each other's writes.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from abc import abstractmethod
from typing import Any, Iterable, Iterator

from server.core.kid_names import name_key
from server.core.storage.interface import (AccountRecord, CarRecord, ClassRecord, KidRecord, RequestLogEntry,
                                           SchemaStatus, SchemaTooNew, SessionRecord, Storage, StorageError)
from server.core.storage.migrations import (CORE_MIGRATIONS, VERSION_TABLE, Migration, check_numbering,
                                            feature_parts, refuse_newer)

Rows = list[tuple[Any, ...]]


class SqlStorage(Storage):
    backend: str
    where: str  # the file, or the URL without its password: for messages

    def __init__(self, migrations: tuple[Migration, ...] = CORE_MIGRATIONS, *, upgrade: bool = True) -> None:
        """upgrade=False only looks (`dojo db status`): no migration runs, nothing is written."""
        check_numbering(migrations)
        self._lock = threading.RLock()  # a transaction's statements take it again
        self._migrations = migrations
        self._asked: dict[str, int] = {}  # feature -> the newest migration this process asked for
        if upgrade:
            self._migrate_core()
            self._rekey_names()

    # --- what a backend provides (called with self._lock held) -------------------------------------

    @abstractmethod
    def _exec(self, sql: str, params: tuple[Any, ...] = ()) -> tuple[Rows, int]:
        """One portable statement: (rows, rowcount)."""

    @abstractmethod
    def _exec_many(self, sql: str, rows: list[tuple[Any, ...]]) -> None: ...

    @abstractmethod
    def _script(self, statements: str) -> None:
        """A portable migration script, inside the current transaction."""

    @abstractmethod
    @contextlib.contextmanager
    def _begin(self, *, schema: bool = False) -> Iterator[None]:
        """A transaction (rolled back on any exception). schema=True: also wait for, and hold until the
        end, the lock that serialises migrations between processes sharing the database."""

    @abstractmethod
    def _kid_references(self) -> list[tuple[str, str]]:
        """(table, column) of every foreign key that points at kids."""

    def _q(self, sql: str, params: tuple[Any, ...] = ()) -> Rows:
        with self._lock:
            return self._exec(sql, params)[0]

    @contextlib.contextmanager
    def _tx(self, *, schema: bool = False) -> Iterator[None]:
        with self._lock, self._begin(schema=schema):
            yield

    # --- migrations -------------------------------------------------------------------------------

    def _migrate_core(self) -> None:
        latest = self._migrations[-1].version
        while True:
            with self._tx(schema=True):
                self._exec(VERSION_TABLE)
                current = self._exec("SELECT MAX(version) FROM schema_version")[0][0][0] or 0
                refuse_newer(current, latest, self.where)
                pending = [m for m in self._migrations if m.version > current]
                if not pending:
                    return
                step = pending[0]  # one transaction per migration: a failing one leaves the ones before it
                self._script(step.sql)
                self._exec("INSERT INTO schema_version (version, what, applied_at) VALUES (?, ?, ?)",
                           (step.version, step.what, time.time()))

    def _rekey_names(self) -> None:
        """Kids stored by an older version (key: the name case folded) get today's look-alike key; two old
        kids whose names look alike keep their old keys (both stay; the teacher sees both on the roster)."""
        for kid_id, name, key in self._q("SELECT kid_id, name, name_key FROM kids"):
            if key != name_key(name):
                try:
                    self._q("UPDATE kids SET name_key = ? WHERE kid_id = ?", (name_key(name), kid_id))
                except self.IntegrityError:
                    pass

    def migrate(self, name: str, statements: str) -> bool:
        feature, number = feature_parts(name)
        self._asked[feature] = max(self._asked.get(feature, 0), number)
        with self._tx(schema=True):
            done = {r[0] for r in self._exec("SELECT name FROM migrations")[0]}
            if name in done:
                return False
            if number > 1 and f"{feature}:{number - 1}" not in done:
                raise StorageError(f"rule migration_order: {name} needs {feature}:{number - 1} first (the database "
                                   f"{self.where} does not have it). Fix: call the feature's migrations in order, 1, 2, ...")
            self._script(statements)
            self._exec("INSERT INTO migrations (name, applied_at) VALUES (?, ?)", (name, time.time()))
            return True

    def check_feature_versions(self) -> None:
        newer = []
        for (name,) in self._q("SELECT name FROM migrations ORDER BY name"):
            try:
                feature, number = feature_parts(name)
            except ValueError:
                continue
            if feature in self._asked and number > self._asked[feature]:
                newer.append(f"{name} (this code knows {feature}:{self._asked[feature]})")
        if newer:
            raise SchemaTooNew(f"rule feature_schema_version: the database {self.where} has feature migrations newer "
                               f"than this MIKRO-DOJO: {', '.join(newer)}. Fix: run the newer release that made "
                               f"them, or point --database at a backup made before the upgrade.")

    def status(self) -> SchemaStatus:
        try:
            applied = [(int(v), w, float(t)) for v, w, t in
                       self._q("SELECT version, what, applied_at FROM schema_version ORDER BY version")]
        except self.Error:  # a database from before versioned migrations (or an empty one): version 0
            applied = []
        try:
            features = [(n, float(t)) for n, t in self._q("SELECT name, applied_at FROM migrations ORDER BY applied_at, name")]
        except self.Error:
            features = []
        return SchemaStatus(self.backend, self.where, applied[-1][0] if applied else 0,
                            self._migrations[-1].version, applied, features)

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> Rows:
        return self._q(sql, params)

    # --- teacher ------------------------------------------------------------------------------------

    def teacher_password_hash(self) -> str | None:
        rows = self._q("SELECT password_hash FROM teacher WHERE id = 1")
        return rows[0][0] if rows else None

    def set_teacher_password_hash(self, value: str) -> None:
        self._q("INSERT INTO teacher (id, password_hash) VALUES (1, ?) "
                "ON CONFLICT(id) DO UPDATE SET password_hash = excluded.password_hash", (value,))

    # --- classes and kids ---------------------------------------------------------------------------

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
        with self._tx():
            # every table whose foreign key points at kids (assignments, features' saved programs, ...)
            for table, column in self._kid_references():
                self._exec(f'DELETE FROM "{table}" WHERE "{column}" = ?', (kid_id,))
            gone = self._exec("DELETE FROM kids WHERE kid_id = ?", (kid_id,))[1]
        return gone > 0

    # --- cars and assignments -----------------------------------------------------------------------

    def upsert_car(self, car_id: str, kind: str) -> None:
        self._q("INSERT INTO cars (car_id, kind, last_seen) VALUES (?, ?, ?) "
                "ON CONFLICT(car_id) DO UPDATE SET kind = excluded.kind, last_seen = excluded.last_seen",
                (car_id, kind, time.time()))

    def list_cars(self) -> list[CarRecord]:
        # sorted here, not by ORDER BY: PostgreSQL sorts text by the database's locale, SQLite by code points
        return sorted((CarRecord(*r) for r in self._q("SELECT car_id, kind, last_seen FROM cars")), key=lambda c: c.car_id)

    def assign(self, car_id: str, kid_ids: list[str]) -> None:
        """The car's kids become exactly these (in this order); each kid leaves any other car."""
        with self._tx():
            self._exec("DELETE FROM assignments WHERE car_id = ?", (car_id,))
            for position, kid_id in enumerate(kid_ids):
                self._exec("INSERT INTO assignments (kid_id, car_id, position) VALUES (?, ?, ?) "
                           "ON CONFLICT(kid_id) DO UPDATE SET car_id = excluded.car_id, position = excluded.position",
                           (kid_id, car_id, position))

    def kids_of_car(self, car_id: str) -> list[str]:
        return [r[0] for r in self._q("SELECT kid_id FROM assignments WHERE car_id = ? ORDER BY position", (car_id,))]

    def car_of_kid(self, kid_id: str) -> str | None:
        rows = self._q("SELECT car_id FROM assignments WHERE kid_id = ?", (kid_id,))
        return rows[0][0] if rows else None

    # --- request log --------------------------------------------------------------------------------

    LOG_COLUMNS = ("t", "kid_id", "car_id", "block", "args", "status", "detail", "duration_s")

    @staticmethod
    def _log_rows(entries: Iterable[RequestLogEntry]) -> list[tuple[Any, ...]]:
        return [(e.t, e.kid_id, e.car_id, e.block, json.dumps(e.args), e.status, e.detail, e.duration_s) for e in entries]

    def log_requests(self, entries: Iterable[RequestLogEntry]) -> None:
        rows = self._log_rows(entries)
        if not rows:
            return
        with self._tx():
            self._exec_many(f"INSERT INTO request_log ({', '.join(self.LOG_COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)

    def recent_requests(self, limit: int = 100, kid_id: str | None = None) -> list[RequestLogEntry]:
        where, params = ("WHERE kid_id = ?", (kid_id,)) if kid_id else ("", ())
        rows = self._q(f"SELECT t, kid_id, car_id, block, args, status, detail, duration_s FROM request_log {where} "
                       "ORDER BY id DESC LIMIT ?", (*params, limit))
        return [RequestLogEntry(r[0], r[1], r[2], r[3], json.loads(r[4]), r[5], r[6], r[7]) for r in rows]

    def prune_requests(self, max_rows: int, older_than: float) -> int:
        with self._tx():
            gone = self._exec("DELETE FROM request_log WHERE t < ?", (older_than,))[1]
            newest = self._exec("SELECT MAX(id) FROM request_log")[0][0][0]
            if newest is not None:
                gone += self._exec("DELETE FROM request_log WHERE id <= ?", (newest - max_rows,))[1]
        return gone

    # --- key-value ----------------------------------------------------------------------------------

    def kv_put(self, namespace: str, key: str, value: Any) -> None:
        self._q("INSERT INTO kv (ns, key, value, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(ns, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                (namespace, key, json.dumps(value), time.time()))

    def kv_get(self, namespace: str, key: str, default: Any = None) -> Any:
        rows = self._q("SELECT value FROM kv WHERE ns = ? AND key = ?", (namespace, key))
        return json.loads(rows[0][0]) if rows else default

    def kv_items(self, namespace: str, prefix: str = "") -> list[tuple[str, Any]]:
        rows = self._q("SELECT key, value FROM kv WHERE ns = ? AND substr(key, 1, ?) = ?", (namespace, len(prefix), prefix))
        return [(k, json.loads(v)) for k, v in sorted(rows)]  # by code points on both engines (see list_cars)

    def kv_delete(self, namespace: str, key: str) -> None:
        self._q("DELETE FROM kv WHERE ns = ? AND key = ?", (namespace, key))

    # --- teacher accounts, stored sessions, who owns which class and car ------------------------------

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
        rows = self._q("SELECT username, role, disabled, created_at FROM teacher_accounts")
        return [AccountRecord(r[0], r[1], bool(r[2]), r[3]) for r in sorted(rows)]  # code-point order (see list_cars)

    def count_accounts(self) -> int:
        return int(self._q("SELECT COUNT(*) FROM teacher_accounts")[0][0])

    def set_account_disabled(self, username: str, disabled: bool) -> bool:
        with self._lock:
            return self._exec("UPDATE teacher_accounts SET disabled = ? WHERE username = ?",
                              (1 if disabled else 0, username))[1] > 0

    def set_account_password_hash(self, username: str, password_hash: str) -> bool:
        with self._lock:
            return self._exec("UPDATE teacher_accounts SET password_hash = ? WHERE username = ?",
                              (password_hash, username))[1] > 0

    def delete_account(self, username: str) -> bool:
        with self._tx():
            self._exec("DELETE FROM teacher_sessions WHERE account = ?", (username,))
            self._exec("DELETE FROM class_owners WHERE account = ?", (username,))
            gone = self._exec("DELETE FROM teacher_accounts WHERE username = ?", (username,))[1]
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
            return self._exec("DELETE FROM teacher_sessions WHERE id_hash = ?", (id_hash,))[1] > 0

    def delete_sessions_of(self, account: str) -> int:
        with self._lock:
            return self._exec("DELETE FROM teacher_sessions WHERE account = ?", (account,))[1]

    def delete_expired_sessions(self, now: float) -> int:
        with self._lock:
            return self._exec("DELETE FROM teacher_sessions WHERE expires_at < ?", (now,))[1]

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
