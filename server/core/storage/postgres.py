"""PostgreSQL: one database for a district, shared by several server processes (``--database postgresql://...``).

psycopg 3 (the ``district`` extra: ``pip install 'mikro-dojo[district]'``), imported only when a
PostgreSQL URL is opened, so a laptop classroom never needs it. One connection per process in autocommit
mode, guarded by a lock, as with SQLite; statements in the portable dialect are turned into psycopg's
form (.dialect). Calls stay synchronous: a round trip on the same machine or LAN is tens to a few hundred
microseconds (docs/storage.md, measured by ``python -m benchmarks storage``), and every statement has a
timeout, so a stuck database cannot hold the event loop for long.
"""

from __future__ import annotations

import contextlib
import logging
import zlib
from typing import Any, Iterable, Iterator

from server.core.storage.dialect import ddl_to_postgres, to_postgres
from server.core.storage.interface import DatabaseUnavailable, RequestLogEntry
from server.core.storage.migrations import CORE_MIGRATIONS, Migration
from server.core.storage.sql import Rows, SqlStorage

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 5  # a database server that does not answer a connect within 5 s is down or unreachable
# Every statement ends within this: the calls run on the event loop, and a class's cars wait on it. The
# slowest statement in normal use (pruning 200,000 log rows, in a thread) takes well under a second.
STATEMENT_TIMEOUT_MS = 5000
# A commit does not wait for its log's fsync (0.3-3 ms on a shared disk, measured: docs/storage.md) while
# the event loop waits for the commit: the promise of SQLite's WAL + synchronous=NORMAL, which a
# classroom has today (a crash of the database machine may lose the last moments, never corrupts).
# A URL with ?options=-c%20synchronous_commit%3Don waits for every commit.
SYNCHRONOUS_COMMIT = "off"
MIGRATION_LOCK_TIMEOUT_S = 120  # another process applying migrations: wait this long for it, then fail
SCHEMA_LOCK_KEY = zlib.crc32(b"mikro-dojo schema") & 0x7FFFFFFF  # the advisory lock every process agrees on


def redact(url: str) -> str:
    """The URL without its password, for messages and `dojo db status`."""
    try:
        from psycopg.conninfo import conninfo_to_dict, make_conninfo

        parts = conninfo_to_dict(url)
    except Exception:  # not parseable: show the scheme only
        return url.split("://", 1)[0] + "://..."
    if not url.startswith(("postgresql://", "postgres://")):
        return make_conninfo(**{k: v for k, v in parts.items() if k != "password"})
    host, port, user, name = parts.get("host", ""), parts.get("port", ""), parts.get("user", ""), parts.get("dbname", "")
    return f"postgresql://{user + '@' if user else ''}{host}{':' + str(port) if port else ''}/{name}"


def _params(params: tuple[Any, ...]) -> tuple[Any, ...]:
    """Booleans go in as 0/1 (the portable rule: INTEGER columns), as SQLite stores them."""
    return tuple(int(p) if isinstance(p, bool) else p for p in params)


class PostgresStorage(SqlStorage):
    backend = "postgresql"

    def __init__(self, url: str, migrations: tuple[Migration, ...] = CORE_MIGRATIONS, *, upgrade: bool = True) -> None:
        try:
            import psycopg
        except ImportError:
            raise DatabaseUnavailable(
                "rule database_driver: --database is a PostgreSQL URL but psycopg is not installed. "
                "Fix: pip install 'mikro-dojo[district]' (or: pip install 'psycopg[binary]')") from None
        self._psycopg = psycopg
        self.IntegrityError = psycopg.IntegrityError
        self.Error = psycopg.Error
        self._url = url
        self.where = redact(url)
        self._db = self._connect()
        super().__init__(migrations, upgrade=upgrade)

    def _connect(self) -> Any:
        psycopg = self._psycopg
        from psycopg.conninfo import conninfo_to_dict

        try:
            given = conninfo_to_dict(self._url).get("options") or ""  # the URL's own settings win over ours
            options = f"-c synchronous_commit={SYNCHRONOUS_COMMIT} -c statement_timeout={STATEMENT_TIMEOUT_MS} {given}"
            return psycopg.connect(self._url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S,
                                   options=" ".join(options.split()), application_name="mikro-dojo")
        except psycopg.Error as exc:
            reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
            raise DatabaseUnavailable(
                f"rule database_reachable: cannot connect to PostgreSQL at {self.where} ({reason}). Fix: start "
                f"PostgreSQL there, create the database (createdb), or correct --database "
                f"(postgresql://user:password@host:port/database)") from None

    def _conn(self) -> Any:
        """The connection, opened again if the last one broke (a database restart costs one failed call)."""
        if self._db.closed or self._db.broken:
            log.warning("the connection to %s was lost: connecting again", self.where)
            self._db = self._connect()
        return self._db

    def _exec(self, sql: str, params: tuple[Any, ...] = ()) -> tuple[Rows, int]:
        cur = self._conn().execute(to_postgres(sql), _params(params)) if params else self._conn().execute(sql)
        return (cur.fetchall() if cur.description else []), cur.rowcount

    def _exec_many(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        with self._conn().cursor() as cur:
            cur.executemany(to_postgres(sql), [_params(r) for r in rows])

    def _script(self, statements: str) -> None:
        self._conn().execute(ddl_to_postgres(statements))  # no parameters: several statements in one go

    @contextlib.contextmanager
    def _begin(self, *, schema: bool = False) -> Iterator[None]:
        with self._conn().transaction():
            if schema:  # migrations may take long; they wait for each other, not for the statement timeout
                self._db.execute("SET LOCAL statement_timeout = 0")
                self._db.execute(f"SET LOCAL lock_timeout = '{MIGRATION_LOCK_TIMEOUT_S}s'")
                self._db.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK_KEY,))
            yield

    def log_requests(self, entries: Iterable[RequestLogEntry]) -> None:
        """COPY instead of INSERTs: 50 rows in ~0.3 ms instead of ~1 ms (the flush thread holds the lock
        that the event loop's calls wait for)."""
        rows = self._log_rows(entries)
        if not rows:
            return
        with self._tx(), self._db.cursor() as cur:
            with cur.copy(f"COPY request_log ({', '.join(self.LOG_COLUMNS)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)

    def _kid_references(self) -> list[tuple[str, str]]:
        return [(t, c) for t, c in self._exec(
            "SELECT cl.relname, a.attname FROM pg_constraint c JOIN pg_class cl ON cl.oid = c.conrelid "
            "JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey) "
            "WHERE c.contype = 'f' AND c.confrelid = to_regclass('kids')")[0]]

    def close(self) -> None:
        with self._lock:
            self._db.close()
