"""`--redis` that cannot work says so and what to do, instead of a traceback: an unreachable Redis, a URL that
is not a Redis URL."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cluster_harness import REPO, _env, free_port, write_config  # noqa: E402


def _serve(tmp_path: Path, redis: str) -> subprocess.CompletedProcess:
    config = write_config(tmp_path, [])
    return subprocess.run([sys.executable, "-m", "server.main", "--port", "0", "--config", str(config), "--redis", redis],
                          capture_output=True, text=True, cwd=REPO, env=_env(), timeout=60)


def test_an_unreachable_redis_stops_the_server_with_what_to_do(tmp_path):
    url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    done = _serve(tmp_path, url)
    assert done.returncode == 1
    assert f"cannot reach Redis at {url}" in done.stderr and "start redis-server there" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_url_that_is_not_redis_is_refused_naming_the_field(tmp_path):
    done = _serve(tmp_path, "http://127.0.0.1:6379")
    assert done.returncode == 2
    assert "redis_url must start with redis://" in done.stderr and "http://127.0.0.1:6379" in done.stderr
