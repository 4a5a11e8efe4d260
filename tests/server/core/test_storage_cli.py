"""`dojo db status` and `dojo db migrate` on a real PostgreSQL and a SQLite data folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from server.core.storage.migrations import LATEST

REPO = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.timeout(120)


def dojo_db(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dojo.cli", "db", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=60, env={**os.environ, "PYTHONPATH": str(REPO)})


def test_status_looks_and_migrate_applies_the_core_and_every_features_migrations(postgres_url):
    before = dojo_db("status", "--database", postgres_url)
    assert before.returncode == 0, before.stderr
    assert f"core schema: version 0 of {LATEST} ({LATEST} to apply: dojo db migrate)" in before.stdout
    assert "dojo" in before.stdout and "(postgresql)" in before.stdout
    assert dojo_db("status", "--database", postgres_url).stdout == before.stdout  # status wrote nothing
    done = dojo_db("migrate", "--database", postgres_url)
    assert done.returncode == 0, done.stderr
    after = dojo_db("status", "--database", postgres_url).stdout
    assert f"core schema: version {LATEST} of {LATEST} (up to date)" in after
    for feature in ("attempts:1", "blockly_programs:1", "scratch_projects:1", "language:1"):
        assert feature in after


def test_status_of_a_database_newer_than_the_code_says_so(tmp_path):
    from server.core.storage import SqliteStorage
    from server.core.storage.migrations import CORE_MIGRATIONS, Migration

    db = tmp_path / "classroom.sqlite3"
    SqliteStorage(db, CORE_MIGRATIONS + (Migration(len(CORE_MIGRATIONS) + 1, "future", "SELECT 1"),)).close()
    out = dojo_db("status", "--data-dir", str(tmp_path))
    assert out.returncode == 0 and "NEWER than this MIKRO-DOJO" in out.stdout, out
    refused = dojo_db("migrate", "--data-dir", str(tmp_path))
    assert refused.returncode == 2 and "rule schema_version" in refused.stderr and "Traceback" not in refused.stderr


def test_status_of_a_folder_without_a_database_makes_none(tmp_path):
    out = dojo_db("status", "--data-dir", str(tmp_path / "new"))
    assert out.returncode == 0 and "does not exist yet" in out.stdout
    assert not (tmp_path / "new").exists()
