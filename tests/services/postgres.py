"""A throwaway PostgreSQL server for tests and benchmarks: Debian's `postgresql` binaries, a temp folder,
a free port on 127.0.0.1, trust auth for loopback only, stopped (and its folder removed) by :meth:`stop`.

    with PostgresServer.start() as pg:
        url = pg.create_database()   # postgresql://dojo@127.0.0.1:PORT/t1, a fresh empty database

PostgreSQL refuses to run as root: as root the server runs as Debian's `postgres` user (runuser), as
anyone else as that user. `find_bin()` is None when the package is not installed (tests then fail under
CI=true and skip otherwise; `make postgresql` installs it).
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

START_TIMEOUT_S = 30.0  # initdb + first start take ~2 s here; a busy CI machine gets room
USER = "dojo"  # the superuser initdb creates (trust auth on loopback)


def find_bin() -> Path | None:
    """The newest installed PostgreSQL's bin folder (Debian: /usr/lib/postgresql/<major>/bin), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[-3]))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    def __init__(self, bin_dir: Path, root: Path, port: int) -> None:
        self.bin_dir, self.root, self.port = bin_dir, root, port
        self._names = itertools.count(1)

    @property
    def data(self) -> Path:
        return self.root / "data"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    @classmethod
    def start(cls, bin_dir: Path | None = None, *, durable: bool = False) -> "PostgresServer":
        """durable=False (tests): no fsync, no waiting for the log on commit. durable=True (benchmarks):
        PostgreSQL's own defaults, a commit waits for its log write like a real district database."""
        bin_dir = bin_dir or find_bin()
        if bin_dir is None:
            raise FileNotFoundError("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): "
                                    "make postgresql  (or: apt-get install -y postgresql)")
        root = Path(tempfile.mkdtemp(prefix="dojo-pg-"))
        server = cls(bin_dir, root, _free_port())
        try:
            if os.geteuid() == 0:
                shutil.chown(root, "postgres")
            server._run("initdb", "-D", str(server.data), "-A", "trust", "-U", USER, "--no-sync", "-E", "UTF8")
            # fsync off: a test database need not survive a power cut, and it saves the shared disk's time
            fast = "" if durable else " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            server._run("pg_ctl", "-D", str(server.data), "-l", str(root / "log"), "-w", "-t", str(int(START_TIMEOUT_S)),
                        "-o", f"-p {server.port} -k {root} -c listen_addresses=127.0.0.1{fast}", "start")
        except BaseException:
            server.stop()
            raise
        return server

    def _run(self, tool: str, *args: str) -> None:
        cmd = [str(self.bin_dir / tool), *args]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=START_TIMEOUT_S + 30)
        if done.returncode != 0:
            log = (self.root / "log").read_text() if (self.root / "log").exists() else ""
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stderr.strip()}\n{log[-2000:]}")

    def create_database(self, name: str | None = None) -> str:
        """A fresh, empty database; returns its URL."""
        import psycopg

        name = name or f"t{next(self._names)}_{int(time.time() * 1000) % 100_000}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        import psycopg

        name = url.rsplit("/", 1)[1]
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            try:
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
            except (RuntimeError, subprocess.TimeoutExpired):
                pid = int((self.data / "postmaster.pid").read_text().split()[0])
                os.kill(pid, 9)
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> "PostgresServer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
