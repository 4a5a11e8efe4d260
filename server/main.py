"""`dojo server`: the classroom server alone; cars join with their pairing token.

    dojo server --port 8080 --data-dir var/server --config classroom.yaml [--log-format json]
    dojo server --database postgresql://dojo@db.example:5432/dojo    (a district: docs/storage.md)

The config file (YAML or JSON) holds any ServerConfig field (teacher password, car tokens, allowed
origins, rate limits ...); command-line options override it. server/classroom.example.yaml is one to
copy. Started without a teacher password (none configured, none kept from an earlier start), it says
how to set one: the console cannot log in until then.

SIGTERM drains first (server/ops/drain.py: /api/health says 503 draining, running blocks get their
answers, clients are sent to reconnect elsewhere) and exits 0; Ctrl-C stops at once. docs/deploy.md.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from robot_runtime.config import read_config_mapping
from server.core.config import DEFAULT_PORT, ServerConfig
from server.ops import logs
from server.ops.drain import drain
from server.runner import REPO_ROOT, StopSignal, start_for_command
from server.web.state import STORAGE
from server.scratch.extension import turbowarp_options

EXAMPLE_CONFIG = REPO_ROOT / "server" / "classroom.example.yaml"


class ConfigFileError(ValueError):
    """A server config file that cannot be used: names the file, the field and the fix."""


def load_config(path: Path | None, **overrides: Any) -> ServerConfig:
    data: dict[str, Any] = {}
    if path is not None:
        data.update(read_config_mapping(path, "config file", ConfigFileError))
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return ServerConfig.model_validate(data)
    except ValidationError as exc:
        where = f"config file {path}" if path else "server options"
        problems = "\n".join(f"  {'.'.join(map(str, e['loc'])) or '(top level)'}: {e['msg']} (got {e.get('input')!r})"
                             for e in exc.errors())
        raise ConfigFileError(f"{where}:\n{problems}") from None


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="dojo server", description="the MIKRO-DOJO classroom server")
    p.add_argument("--host", help="address to listen on (default 127.0.0.1; 0.0.0.0 for a classroom network)")
    p.add_argument("--port", type=int, help=f"port (default {DEFAULT_PORT}; 0 picks a free one)")
    p.add_argument("--data-dir", type=Path, help="where the classroom keeps its data (default var/server)")
    p.add_argument("--config", type=Path, help="a YAML/JSON file with ServerConfig fields")
    p.add_argument("--database", metavar="URL",
                   help="postgresql://user:password@host:port/name (several servers share it) or "
                        "sqlite:///path/file.sqlite3 (default: SQLite in the data folder)")
    p.add_argument("--redis", metavar="URL",
                   help="several server processes share this Redis (redis://127.0.0.1:6379/0) and one database; "
                        "see docs/cluster.md. Without it: one process, no Redis")
    p.add_argument("--turbowarp-port", type=int, metavar="PORT",
                   help="also listen on http://localhost:PORT (8000 for TurboWarp) and allow https://turbowarp.org")
    p.add_argument("--log-format", choices=("human", "json"),
                   help="human (default) or json: one JSON object per line on stderr, for a log collector")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    data_dir = args.data_dir or (None if args.config else REPO_ROOT / "var" / "server")
    try:
        config = load_config(args.config, host=args.host, port=args.port, data_dir=data_dir,
                             turbowarp_port=args.turbowarp_port, database=args.database, redis_url=args.redis)
        if args.log_format:
            config = config.model_copy(update={"ops": config.ops.model_copy(update={"log_format": args.log_format})})
        if config.turbowarp_port:  # TurboWarp's web origin may then use the API and /scratch/ble too
            config = config.model_copy(update=turbowarp_options(config.turbowarp_port, config.allowed_origins))
    except ConfigFileError as exc:
        print(f"dojo server: {exc}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(_serve(config))
    except KeyboardInterrupt:
        return 130


async def _serve(config: ServerConfig) -> int:
    logs.configure(config.ops.log_format)
    stop = StopSignal()
    server = await start_for_command(config, "dojo server")
    if server is None:
        return 1
    try:
        where = server.app[STORAGE].where if config.database else config.data_dir.resolve()
        print(f"MIKRO-DOJO server on {server.base_url}   (data in {where}; Ctrl-C stops)", flush=True)
        print(f"  start here: {server.base_url}/   (kids, teacher console, arena, setup)", flush=True)
        for line in setup_hints(config, has_password=server.app[STORAGE].teacher_password_hash() is not None):
            print(line, flush=True)
        if await stop.wait() == signal.SIGTERM:
            print("dojo server: SIGTERM, draining (GET /api/health says 503 draining)", flush=True)
            report = await drain(server.app)
            print(f"dojo server: drained in {report.seconds:.2f} s ({report.finished} block(s) finished, "
                  f"{report.stopped} stopped)", flush=True)
    finally:
        await server.close()
    return 0


def setup_hints(config: ServerConfig, *, has_password: bool) -> list[str]:
    """What is still missing for a class, and how to add it (the example config shows every field)."""
    lines = []
    if not has_password:
        lines += ["  no teacher password yet: the teacher console cannot log in. Set one in a config file:",
                  f"    cp {EXAMPLE_CONFIG} classroom.yaml   (change teacher_password and the car tokens)",
                  "    dojo server --config classroom.yaml"]
    if not config.car_tokens and not config.car_pairing_secret:
        lines.append(f"  no car tokens configured: pair cars with \"+ Add a car\" in the teacher console "
                     f"(or add car_tokens to the --config file, see {EXAMPLE_CONFIG.name})")
    return lines


if __name__ == "__main__":
    sys.exit(main())
