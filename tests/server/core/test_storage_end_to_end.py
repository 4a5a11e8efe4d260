"""A whole classroom on each database, end to end: a real server, a real simulated car, kids through the
real API; then a restart, and everything is still there. And two `dojo server` processes on one
PostgreSQL database: what one writes, the other serves."""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

import classroom_story
from core_harness import PASSWORD, classroom_server

REPO = Path(__file__).resolve().parents[3]
START_TIMEOUT_S = 30.0  # `dojo server` prints its URL within ~2 s here; a loaded CI machine gets room
pytestmark = pytest.mark.timeout(240)


async def test_a_lesson_attempt_graded_on_each_database_survives_a_restart(tmp_path, database_url):
    database = database_url
    async with classroom_server(tmp_path, cars=["car-1"], database=database) as srv:
        facts = await classroom_story.fill(srv)
    async with classroom_server(tmp_path, cars=["car-1"], database=database) as srv:
        await classroom_story.check(srv, facts)


@contextlib.contextmanager
def dojo_server(config: Path):
    """`dojo server --config ... --port 0` in its own process; yields its base URL; stopped with SIGTERM."""
    proc = subprocess.Popen([sys.executable, "-m", "dojo.cli", "server", "--config", str(config), "--port", "0"],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        deadline, url = time.monotonic() + START_TIMEOUT_S, None
        lines = []
        while url is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if m := re.search(r"MIKRO-DOJO server on (http://\S+)", line):
                url = m.group(1)
        assert url, "dojo server did not start:\n" + "".join(lines)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def teacher_session(url: str) -> tuple[requests.Session, dict]:
    s = requests.Session()
    r = s.post(f"{url}/api/teacher/login", json={"password": PASSWORD}, timeout=10)
    assert r.status_code == 200, r.text
    return s, {"X-CSRF-Token": r.json()["csrf_token"]}


def test_two_server_processes_on_one_postgresql_database_share_the_classroom(tmp_path, postgres_url):
    configs = []
    for name in ("a", "b"):  # each process its own data folder; the database and the token key are shared
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps({"database": postgres_url, "data_dir": str(tmp_path / name),
                                    "teacher_password": PASSWORD, "secret_key": "k" * 32, "auto_assign_cars": False}))
        configs.append(path)
    with dojo_server(configs[0]) as a, dojo_server(configs[1]) as b:
        teacher_a, csrf = teacher_session(a)
        r = teacher_a.post(f"{a}/api/teacher/classes", json={"name": "Class 4B"}, headers=csrf, timeout=10)
        assert r.status_code == 201, r.text
        code = r.json()["code"]
        mia = requests.post(f"{a}/api/join", json={"class_code": code, "name": "Mia"}, timeout=10).json()

        # process B: the class exists, Mia is Mia, her token from A works, the teacher sees her
        again = requests.post(f"{b}/api/join", json={"class_code": code, "name": "MIA", "rejoin": True}, timeout=10)
        assert again.status_code == 200 and again.json()["kid_id"] == mia["kid_id"], again.text
        lessons = requests.get(f"{b}/api/lessons", headers={"Authorization": f"Bearer {mia['token']}"}, timeout=10)
        assert lessons.status_code == 200 and lessons.json()["lessons"]
        teacher_b, csrf_b = teacher_session(b)
        roster = teacher_b.get(f"{b}/api/teacher/classes/{code}/roster", timeout=10).json()
        assert [k["name"] for k in roster["kids"]] == ["Mia"]
        r = teacher_b.post(f"{b}/api/teacher/classes/{code}/level", json={"level": 2}, headers=csrf_b, timeout=10)
        assert r.status_code == 200, r.text
        leo = requests.post(f"{a}/api/join", json={"class_code": code, "name": "Leo"}, timeout=10).json()
        assert leo["level"] == 2  # the class level B set is the level a kid joining on A gets
        saved = requests.put(f"{b}/api/programs/current", json={"program": {"blocks": {"languageVersion": 0}}},
                             headers={"Authorization": f"Bearer {leo['token']}"}, timeout=10)
        assert saved.status_code == 200, saved.text
        got = requests.get(f"{a}/api/programs/current", headers={"Authorization": f"Bearer {leo['token']}"}, timeout=10)
        assert got.json()["program"] == {"blocks": {"languageVersion": 0}}


def test_dojo_server_refuses_a_database_newer_than_its_code(tmp_path, postgres_url):
    from server.core.storage.migrations import CORE_MIGRATIONS, Migration
    from server.core.storage.postgres import PostgresStorage

    PostgresStorage(postgres_url, CORE_MIGRATIONS + (Migration(len(CORE_MIGRATIONS) + 1, "future", "SELECT 1"),)).close()
    done = subprocess.run([sys.executable, "-m", "dojo.cli", "server", "--database", postgres_url, "--port", "0",
                           "--data-dir", str(tmp_path)], cwd=REPO, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode != 0
    assert "rule schema_version" in done.stderr and "Fix:" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_dojo_teacher_manages_accounts_on_the_districts_postgresql(postgres_url):
    run = lambda *args, stdin="": subprocess.run(  # noqa: E731
        [sys.executable, "-m", "dojo.cli", "teacher", "--database", postgres_url, *args], cwd=REPO, input=stdin,
        capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(REPO)})
    added = run("add", "ana", stdin="a-long-enough-password\n")
    assert added.returncode == 0, added.stderr
    listed = run("list")
    assert listed.returncode == 0 and listed.stdout.split()[:3] == ["ana", "teacher", "active"], listed
