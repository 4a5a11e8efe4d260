"""Copy a classroom's SQLite database into an empty PostgreSQL database (`dojo db copy`): a school moving to
its district's server keeps every class, kid, level, car, attempt, grade, saved program and log row.

1. Both databases are opened as a server would open them: each is brought to this code's core schema.
2. The target must be empty (no row in any table we copy): a copy never merges into a live classroom.
3. Feature tables the target lacks are created from the source's own CREATE statements (SQLite keeps
   them as the features wrote them, in the portable dialect), with their indexes; the source's feature
   migration records come along, so the features do not run them again on the target.
4. Every row goes across in one target transaction, parents before children (foreign keys), in batches;
   identity counters (the request log's ids) continue after the highest copied id.
5. The row counts of both sides are compared; any difference rolls everything back.

A failure anywhere leaves the target as it was (empty). The source is only read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from server.core.storage.interface import StorageError
from server.core.storage.postgres import PostgresStorage
from server.core.storage.sqlite import SqliteStorage

BATCH_ROWS = 1000  # rows per executemany: big enough to be quick, small enough for a kid's 3 MB Scratch files
SCHEMA_TABLES = ("schema_version", "migrations")  # the bookkeeping: merged, not copied over


@dataclass(frozen=True)
class CopyReport:
    rows: dict[str, int]  # table -> rows copied
    created: list[str]  # feature tables created on the target


def _source_tables(source: SqliteStorage) -> list[tuple[str, str]]:
    """(name, CREATE statement) of the source's tables, in creation order."""
    return [(n, sql) for n, sql in source.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY rowid")]


def _parents_first(source: SqliteStorage, tables: list[str]) -> list[str]:
    parents = {t: {r[2] for r in source.execute(f'PRAGMA foreign_key_list("{t}")')} & set(tables) - {t} for t in tables}
    ordered: list[str] = []
    while len(ordered) < len(tables):
        ready = [t for t in tables if t not in ordered and parents[t] <= set(ordered)]
        if not ready:
            raise StorageError(f"rule copy_foreign_keys: the tables {sorted(set(tables) - set(ordered))} refer to each "
                               "other in a circle; copy them by hand")
        ordered += ready
    return ordered


def _columns(storage: Any, table: str) -> list[str]:
    if isinstance(storage, SqliteStorage):
        return [r[1] for r in storage.execute(f'PRAGMA table_info("{table}")')]
    return [r[0] for r in storage.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
        "AND table_name = ? ORDER BY ordinal_position", (table,))]


def _target_tables(target: PostgresStorage) -> set[str]:
    return {r[0] for r in target.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")}


def copy_sqlite_to_postgres(source: SqliteStorage, target: PostgresStorage) -> CopyReport:
    tables = [(n, sql) for n, sql in _source_tables(source) if n not in SCHEMA_TABLES]
    existing = _target_tables(target)
    counted = {n: target.execute('SELECT COUNT(*) FROM "' + n + '"')[0][0] for n, _ in tables if n in existing}
    busy = [f"{n} ({rows} rows)" for n, rows in counted.items() if rows]
    if busy:
        raise StorageError(f"rule copy_target_empty: {target.where} already has data: {', '.join(busy)}. Fix: copy "
                           "into a new, empty database (createdb dojo_school), never over a classroom in use")
    order = _parents_first(source, [n for n, _ in tables])
    created: list[str] = []
    counts: dict[str, int] = {}
    with target._tx(schema=True):  # one transaction: all of it, or nothing
        for name, sql in tables:
            if name not in existing:
                target._script(sql)  # portable, as the feature wrote it: _script makes it PostgreSQL's
                created.append(name)
        for (sql,) in source.execute("SELECT sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
                                     "ORDER BY rowid"):
            if any(f" ON {t} " in sql or f' ON "{t}" ' in sql for t in created):
                target._script(sql)
        known = {r[0] for r in target._exec("SELECT name FROM migrations")[0]}
        for name, applied_at in source.execute("SELECT name, applied_at FROM migrations"):
            if name not in known:
                target._exec("INSERT INTO migrations (name, applied_at) VALUES (?, ?)", (name, applied_at))
        for table in order:
            target_columns = set(_columns(target, table))
            columns = [c for c in _columns(source, table) if c in target_columns]
            names = ", ".join(f'"{c}"' for c in columns)
            insert = f'INSERT INTO "{table}" ({names}) VALUES ({", ".join("?" for _ in columns)})'
            cursor = source._db.execute(f'SELECT {names} FROM "{table}"')
            counts[table] = 0
            while batch := cursor.fetchmany(BATCH_ROWS):
                target._exec_many(insert, batch)
                counts[table] += len(batch)
        for table, column in target._exec(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND is_identity = 'YES'")[0]:
            target._exec(f"SELECT setval(pg_get_serial_sequence('\"{table}\"', '{column}'), "
                         f'COALESCE((SELECT MAX("{column}") FROM "{table}"), 0) + 1, false)')
        for table in order:
            there = target._exec(f'SELECT COUNT(*) FROM "{table}"')[0][0][0]
            if there != counts[table]:
                raise StorageError(f"rule copy_counts: {table} has {counts[table]} rows in the source but {there} in "
                                   "the target after the copy; nothing was kept. Fix: report this as a bug")
    return CopyReport(counts, created)
