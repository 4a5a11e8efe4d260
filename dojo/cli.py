"""`dojo` command line: each subcommand lives with the part it belongs to and is imported lazily,
so `dojo car` on a Raspberry Pi never imports the server (or torch, or opencv)."""

from __future__ import annotations

import importlib
import importlib.metadata
import sys

# subcommand -> (module:function taking argv, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("server.demo:main", "server + simulated cars + a demo class, on 127.0.0.1:8080"),
    "server": ("server.main:main", "the classroom server"),
    "db": ("server.db:main", "the classroom database: status, migrate, copy SQLite into PostgreSQL"),
    "car": ("robot_runtime.car:main", "a car runtime: --sim for a simulated car, or a car config file"),
    "teacher": ("server.teacher_accounts:main", "teacher accounts: add, list, disable, enable, password, logout, remove"),
    "lessons": ("curriculum.cli:main", "lesson tools: `dojo lessons check`"),
    "skills": ("learning.cli:main", "learned skills: list, show, record, train, eval, promote, rollback"),
}


def _usage() -> str:
    lines = ["usage: dojo <command> [options]      (dojo --version: the installed version)", "", "commands:"]
    lines += [f"  {name:<9} {help_}" for name, (_, help_) in COMMANDS.items()]
    lines += ["", "`dojo <command> --help` tells more."]
    return "\n".join(lines)


def version() -> str:
    """The installed package's version (the source tree's when it is not installed)."""
    try:
        return importlib.metadata.version("mikro-dojo")
    except importlib.metadata.PackageNotFoundError:
        return "0.1.0+source"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(_usage())
        return 0
    if argv[0] in ("--version", "-V", "version"):
        print(f"mikro-dojo {version()}")
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"dojo: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module_name, func_name = COMMANDS[name][0].split(":")
    func = getattr(importlib.import_module(module_name), func_name)
    return int(func(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
