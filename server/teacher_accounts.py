"""`dojo teacher`: teacher accounts on the server's own command line (accounts mode: server/core/tenancy.py).

    dojo teacher add NAME [--admin]       a new account; the password is asked twice (or read from stdin)
    dojo teacher list                     every account, its role, whether disabled, its classes
    dojo teacher disable NAME | enable NAME
    dojo teacher password NAME            a new password (and every session of NAME ends)
    dojo teacher logout NAME              log NAME out everywhere
    dojo teacher remove NAME              the account goes; its classes stay, owned by nobody (the admin's)
    dojo teacher give-class CODE NAME     the class changes hands (NAME "-": nobody's)

Each takes ``--data-dir`` / ``--config`` / ``--database`` like `dojo server`, and works on the same database
while the server runs (SQLite WAL, or the district's PostgreSQL): a running server notices a session ended
here within a second. The first account switches the server to accounts mode: the classroom password
stops opening the console.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from server.core.auth import ADMIN, TEACHER, SessionStore, hash_password
from server.core.storage import Storage, StorageError, open_storage
from server.core.tenancy import Tenancy, check_password
from server.core.types import ClassroomError
from server.main import REPO_ROOT, ConfigFileError, load_config


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dojo teacher", description="teacher accounts (accounts mode)")
    p.add_argument("--data-dir", type=Path, help="the server's data folder (default var/server)")
    p.add_argument("--config", type=Path, help="the server's config file (for its data_dir or database)")
    p.add_argument("--database", metavar="URL", help="postgresql://... or sqlite:///path (default: the server's)")
    sub = p.add_subparsers(dest="command", required=True)
    add = sub.add_parser("add", help="a new teacher account")
    add.add_argument("name")
    add.add_argument("--admin", action="store_true", help="an admin: manages accounts, sees every class and car")
    sub.add_parser("list", help="every account")
    for name, help_ in (("disable", "the account can no longer log in (its sessions end)"),
                        ("enable", "the account can log in again"),
                        ("password", "set a new password (its sessions end)"),
                        ("logout", "log the account out everywhere"),
                        ("remove", "remove the account (its classes stay, owned by nobody)")):
        sub.add_parser(name, help=help_).add_argument("name")
    give = sub.add_parser("give-class", help="give a class to a teacher ('-': to nobody)")
    give.add_argument("code")
    give.add_argument("name")
    return p


def _read_password(name: str) -> str:
    """Asked twice on a terminal; one line from stdin otherwise (scripts, tests): never on the command line,
    where `ps` would show it."""
    if sys.stdin.isatty():
        first = getpass.getpass(f"password for {name}: ")
        if getpass.getpass("again: ") != first:
            raise ClassroomError("teacher_password_repeat", "the two passwords differ", None, "type the same one twice")
        return first
    return sys.stdin.readline().rstrip("\n")


def _run(args: argparse.Namespace, storage: Storage, tenancy: Tenancy, sessions: SessionStore) -> str:
    if args.command == "add":
        record = tenancy.add_account(args.name, _read_password(args.name), ADMIN if args.admin else TEACHER)
        return f"added {record.role} {record.username!r} (this server is in accounts mode: log in with the username)"
    if args.command == "list":
        rows = []
        for r in storage.list_accounts():
            classes = [c.code for c in storage.list_classes() if storage.class_owner(c.code) == r.username]
            rows.append(f"{r.username:<20} {r.role:<8} {'disabled' if r.disabled else 'active':<9} "
                        f"{' '.join(classes) or '-'}")
        return "\n".join(rows) if rows else "no teacher accounts: single-password mode (`dojo teacher add NAME --admin`)"
    if args.command in ("disable", "enable"):
        tenancy.set_disabled(args.name, args.command == "disable")
        ended = sessions.end_all(args.name) if args.command == "disable" else 0
        return f"{args.name}: {args.command}d" + (f", {ended} session(s) ended" if ended else "")
    if args.command == "password":
        tenancy.account(args.name)
        storage.set_account_password_hash(args.name, hash_password(check_password(_read_password(args.name))))
        return f"{args.name}: new password, {sessions.end_all(args.name)} session(s) ended"
    if args.command == "logout":
        tenancy.account(args.name)
        return f"{args.name}: {sessions.end_all(args.name)} session(s) ended"
    if args.command == "remove":
        sessions.end_all(args.name)
        tenancy.remove_account(args.name)
        return f"{args.name}: removed (their classes are nobody's now: `dojo teacher give-class CODE NAME`)"
    if args.command == "give-class":
        code = args.code.upper()
        if storage.get_class(code) is None:
            raise ClassroomError("class_code", f"there is no class {code}", code, "`dojo teacher list` shows the classes")
        owner = None if args.name == "-" else tenancy.account(args.name).username
        tenancy.set_class_owner(code, owner)
        return f"class {code} now belongs to {owner or 'nobody (the admin)'}"
    raise AssertionError(args.command)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    data_dir = args.data_dir or (None if args.config else REPO_ROOT / "var" / "server")
    try:
        config = load_config(args.config, data_dir=data_dir, database=args.database)
        storage = open_storage(config.database, config.db_path)
    except (ConfigFileError, StorageError) as exc:
        print(f"dojo teacher: {exc}", file=sys.stderr)
        return 2
    try:
        tenancy = Tenancy(storage)
        sessions = SessionStore(storage, config.timeouts.teacher_session_s, config.resolved_secret_key())
        print(_run(args, storage, tenancy, sessions))
        return 0
    except ClassroomError as exc:
        print(f"dojo teacher: {exc.message}" + (f" — {exc.fix}" if exc.fix else ""), file=sys.stderr)
        return 1
    finally:
        storage.close()
