"""`dojo db`: the classroom database — where it stands, bring it up to date, move it to PostgreSQL.

    dojo db status  [--database URL | --config FILE | --data-dir DIR]   version, pending and applied migrations
    dojo db migrate [--database URL | --config FILE | --data-dir DIR]   what a server start applies, without serving
    dojo db copy --from sqlite:///var/server/classroom.sqlite3 --to postgresql://dojo@db:5432/dojo

Without --database the database is the server's: the --config file's `database`, else SQLite in the data
folder (default var/server), exactly as `dojo server` would open it. docs/storage.md.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

from server.core.config import ServerConfig
from server.core.storage import SqliteStorage, StorageError, open_storage, parse_database_url
from server.core.storage.interface import SchemaStatus
from server.main import ConfigFileError, load_config
from server.runner import REPO_ROOT


def _config(args: argparse.Namespace) -> ServerConfig:
    data_dir = args.data_dir or (None if args.config else REPO_ROOT / "var" / "server")
    return load_config(args.config, data_dir=data_dir, database=args.database)


def _describe(status: SchemaStatus) -> list[str]:
    state = ("up to date" if status.version == status.latest else
             f"{status.latest - status.version} to apply: dojo db migrate" if status.version < status.latest else
             "NEWER than this MIKRO-DOJO: a server of this version refuses to start on it")
    lines = [f"database: {status.where} ({status.backend})",
             f"core schema: version {status.version} of {status.latest} ({state})"]
    lines += [f"  {v:>3}  {time.strftime('%Y-%m-%d %H:%M', time.localtime(t))}  {what}" for v, what, t in status.applied]
    lines.append("feature migrations: " + (", ".join(n for n, _ in status.features) or "none yet (a server start applies them)"))
    return lines


def status(args: argparse.Namespace) -> int:
    config = _config(args)
    kind, where = parse_database_url(config.database) if config.database else ("sqlite", str(config.db_path))
    if kind == "sqlite" and not Path(where).is_file():
        print(f"database: {where} (sqlite) does not exist yet: the first `dojo server` or `dojo db migrate` makes it")
        return 0
    storage = open_storage(config.database, config.db_path, upgrade=False)
    try:
        print("\n".join(_describe(storage.status())))
    finally:
        storage.close()
    return 0


def migrate(args: argparse.Namespace) -> int:
    """The core's migrations, then every feature's: the app is built (as a server start does) and closed."""
    from server.app import create_app

    config = _config(args)

    async def build() -> None:
        from server.web.state import STORAGE

        app = create_app(config)
        storage = app[STORAGE]
        print("\n".join(_describe(storage.status())))
        storage.close()

    asyncio.run(build())
    return 0


def copy(args: argparse.Namespace) -> int:
    from server.core.storage.copy import copy_sqlite_to_postgres
    from server.core.storage.postgres import PostgresStorage

    source_kind, source_path = parse_database_url(args.source)
    target_kind, target_url = parse_database_url(args.target)
    if source_kind != "sqlite" or target_kind != "postgresql":
        raise StorageError("rule copy_direction: dojo db copy copies a SQLite file into PostgreSQL "
                           f"(got {source_kind} -> {target_kind}). Fix: --from sqlite:///path --to postgresql://...")
    if not Path(source_path).is_file():
        raise StorageError(f"rule copy_source: there is no SQLite file at {source_path}. Fix: name the classroom's "
                           "database, e.g. --from sqlite:///var/server/classroom.sqlite3")
    source = SqliteStorage(source_path)
    try:
        target = PostgresStorage(target_url)
        try:
            started = time.monotonic()
            report = copy_sqlite_to_postgres(source, target)
            took = time.monotonic() - started
            print(f"copied {source.where} -> {target.where} in {took:.1f} s")
            for table, rows in report.rows.items():
                print(f"  {table:<20} {rows:>8} rows" + ("   (table created)" if table in report.created else ""))
            print("now start the server with --database and the --to URL; keep the SQLite file as a backup")
        finally:
            target.close()
    finally:
        source.close()
    return 0


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="dojo db", description="the classroom database (docs/storage.md)")
    sub = p.add_subparsers(dest="command", required=True)
    for name, func, help_ in (("status", status, "the schema version, pending and applied migrations"),
                              ("migrate", migrate, "apply every migration, as a server start would, without serving")):
        s = sub.add_parser(name, help=help_)
        s.add_argument("--database", metavar="URL", help="postgresql://... or sqlite:///path (default: the server's)")
        s.add_argument("--config", type=Path, help="the server's YAML/JSON config file")
        s.add_argument("--data-dir", type=Path, help="the server's data folder (default var/server)")
        s.set_defaults(func=func)
    c = sub.add_parser("copy", help="copy a SQLite classroom into an empty PostgreSQL database")
    c.add_argument("--from", dest="source", required=True, metavar="sqlite:///PATH")
    c.add_argument("--to", dest="target", required=True, metavar="postgresql://...")
    c.set_defaults(func=copy)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        return args.func(args)
    except (StorageError, ConfigFileError, ValueError) as exc:
        print(f"dojo db {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
