"""SQLite in WAL mode: one classroom on one machine, nothing to install or set up (`dojo demo`'s default)."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path
from typing import Any, Iterator

from robot_runtime.private_files import create_private
from server.core.storage.dialect import split_statements
from server.core.storage.migrations import CORE_MIGRATIONS, Migration
from server.core.storage.sql import Rows, SqlStorage

BUSY_TIMEOUT_S = 5.0  # another process (`dojo db migrate`) holding the write lock: wait this long, then fail


class SqliteStorage(SqlStorage):
    """SQLite in WAL mode; one connection guarded by a lock (the flush thread shares it)."""

    backend = "sqlite"
    IntegrityError = sqlite3.IntegrityError
    Error = sqlite3.Error

    def __init__(self, path: str | Path, migrations: tuple[Migration, ...] = CORE_MIGRATIONS, *,
                 upgrade: bool = True) -> None:
        if str(path) != ":memory:":
            create_private(path)  # 0600 in a 0700 folder before SQLite opens it; -wal and -shm copy its mode
        self.where = str(path)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=BUSY_TIMEOUT_S)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across app crashes, fast
        self._db.execute("PRAGMA foreign_keys=ON")
        super().__init__(migrations, upgrade=upgrade)

    def _exec(self, sql: str, params: tuple[Any, ...] = ()) -> tuple[Rows, int]:
        cur = self._db.execute(sql, params)
        return cur.fetchall(), cur.rowcount

    def _exec_many(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        self._db.executemany(sql, rows)

    def _script(self, statements: str) -> None:
        for statement in split_statements(statements):  # not executescript: it would commit our transaction
            self._db.execute(statement)

    @contextlib.contextmanager
    def _begin(self, *, schema: bool = False) -> Iterator[None]:
        # IMMEDIATE takes the write lock at once: a second process migrating waits here (busy timeout)
        self._db.execute("BEGIN IMMEDIATE" if schema else "BEGIN")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _kid_references(self) -> list[tuple[str, str]]:
        out = []
        for (table,) in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
            for fk in self._db.execute(f'PRAGMA foreign_key_list("{table}")').fetchall():
                if fk[2] == "kids":  # (id, seq, table, from, to, ...)
                    out.append((table, fk[3]))
        return out

    def close(self) -> None:
        with self._lock:
            self._db.close()
