"""A classroom database made by the code before versioned migrations (fixtures/classroom_v0.sql, made
through the API by fixtures/make_classroom_v0.py) keeps every class, kid, level, car, attempt, grade and
saved program when today's code opens it, and again after `dojo db copy` moves it into PostgreSQL."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import classroom_story
from core_harness import classroom_server
from server.core.storage import RequestLogEntry, SqliteStorage
from server.core.storage.migrations import LATEST
from server.core.storage.postgres import PostgresStorage

FIXTURES = Path(__file__).resolve().parent / "fixtures"
REPO = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.timeout(180)


def v0_database(folder: Path) -> Path:
    """classroom_v0.sql loaded with sqlite3 alone (none of our code), where a server keeps its database."""
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "classroom.sqlite3"
    raw = sqlite3.connect(db)
    raw.executescript((FIXTURES / "classroom_v0.sql").read_text())
    raw.close()
    return db


def every_row(db: Path) -> dict[str, list[tuple]]:
    raw = sqlite3.connect(db)
    try:
        tables = [r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                            "AND name NOT LIKE 'sqlite_%' AND name != 'schema_version'")]
        return {t: sorted(raw.execute(f'SELECT * FROM "{t}"').fetchall(), key=repr) for t in tables}
    finally:
        raw.close()


def facts() -> dict:
    return json.loads((FIXTURES / "classroom_v0.json").read_text())


def test_the_fixture_is_a_database_from_before_versioned_migrations(tmp_path):
    rows = every_row(v0_database(tmp_path))
    assert "schema_version" not in sqlite3.connect(tmp_path / "classroom.sqlite3").execute(
        "SELECT group_concat(name) FROM sqlite_master").fetchone()[0]
    assert len(rows["kids"]) == 4 and len(rows["attempts"]) == 2 and rows["scratch_projects"]


def test_todays_code_opens_an_old_database_and_changes_no_row(tmp_path):
    db = v0_database(tmp_path)
    before = every_row(db)
    storage = SqliteStorage(db)
    status = storage.status()
    storage.close()
    assert status.version == LATEST and [v for v, _, _ in status.applied] == list(range(1, LATEST + 1))
    after = every_row(db)
    assert {t: after[t] for t in before} == before  # every class, kid, level, assignment, attempt, grade, program, log
    assert not any(after[t] for t in set(after) - set(before))  # later migrations' tables start empty


async def test_a_server_on_an_upgraded_old_database_serves_every_kid_attempt_and_grade(tmp_path):
    v0_database(tmp_path)
    async with classroom_server(tmp_path, cars=["car-1"]) as srv:
        await classroom_story.check(srv, facts())


def test_dojo_db_copy_moves_an_old_classroom_into_postgresql_row_for_row(tmp_path, postgres_url):
    db = v0_database(tmp_path / "school")
    done = subprocess.run([sys.executable, "-m", "dojo.cli", "db", "copy", "--from", f"sqlite://{db}", "--to", postgres_url],
                          cwd=REPO, capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr
    assert "attempts" in done.stdout and "(table created)" in done.stdout
    source = every_row(db)
    target = PostgresStorage(postgres_url)
    try:
        for table, rows in source.items():
            if table == "migrations":
                continue
            columns = ", ".join(f'"{c[1]}"' for c in sqlite3.connect(db).execute(f'PRAGMA table_info("{table}")'))
            got = sorted(target.execute(f'SELECT {columns} FROM "{table}"'), key=repr)
            assert got == rows, table  # floats to the last digit, BLOBs byte for byte
        assert {n for (n,) in target.execute("SELECT name FROM migrations")} >= {n for n, _ in source["migrations"]}
        # the identity counter continues after the copied ids
        target.log_requests([RequestLogEntry(2e9, "k", None, "stop", {}, "done", "", 0.0)])
        assert target.execute("SELECT MAX(id) FROM request_log") == [(len(source["request_log"]) + 1,)]
    finally:
        target.close()
    again = subprocess.run([sys.executable, "-m", "dojo.cli", "db", "copy", "--from", f"sqlite://{db}", "--to", postgres_url],
                           cwd=REPO, capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert again.returncode == 2 and "rule copy_target_empty" in again.stderr and "Fix:" in again.stderr


async def test_a_server_on_the_copied_postgresql_database_serves_the_same_classroom(tmp_path, postgres_url):
    from server.core.storage.copy import copy_sqlite_to_postgres

    source = SqliteStorage(v0_database(tmp_path / "school"))
    target = PostgresStorage(postgres_url)
    try:
        report = copy_sqlite_to_postgres(source, target)
    finally:
        source.close()
        target.close()
    assert report.rows["kids"] == 4 and report.rows["attempts"] == 2
    async with classroom_server(tmp_path / "district", cars=["car-1"], database=postgres_url) as srv:
        await classroom_story.check(srv, facts())


def test_a_failed_copy_leaves_the_target_empty(tmp_path, postgres_url):
    from server.core.storage.copy import copy_sqlite_to_postgres

    db = v0_database(tmp_path)
    raw = sqlite3.connect(db)
    raw.execute("INSERT INTO cars VALUES ('car-9', 'sim', 'not a time')")  # SQLite keeps any type; PostgreSQL won't
    raw.commit()
    raw.close()
    source, target = SqliteStorage(db), PostgresStorage(postgres_url)
    try:
        with pytest.raises(target.Error):
            copy_sqlite_to_postgres(source, target)
        assert target.execute("SELECT COUNT(*) FROM kids") == [(0,)] and target.execute("SELECT COUNT(*) FROM classes") == [(0,)]
        assert not target.execute("SELECT 1 FROM information_schema.tables WHERE table_name = 'attempts'")
    finally:
        source.close()
        target.close()
