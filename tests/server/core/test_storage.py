"""Storage: one interface, the same promises on SQLite (WAL) and on a real PostgreSQL (every test with
`database_url` runs on both); a restarted server keeps its classroom."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from core_harness import classroom_server
from server.core.storage import RequestLogEntry, SchemaTooNew, SqliteStorage, StorageError, open_storage
from server.core.storage.migrations import CORE_MIGRATIONS, LATEST, Migration


def opened(url: str, migrations=CORE_MIGRATIONS):
    """The storage at a database URL (the server's own way of opening one), with a chosen migration list."""
    kind, where = url.split("://", 1)
    if kind == "sqlite":
        return SqliteStorage(where, migrations)
    from server.core.storage.postgres import PostgresStorage

    return PostgresStorage(url, migrations)


def test_keeps_classes_kids_cars_and_documents_across_reopen(database_url):
    s = open_storage(database_url, Path("unused"))
    s.create_class("ABCDE", "4B")
    s.add_kid("k1", "ABCDE", "Mia", 2)
    s.upsert_car("car-1", "sim")
    s.assign("car-1", ["k1"])
    s.kv_put("progress", "k1", {"done": ["l1"], "t": 1764700000.123456})
    s.close()
    s = open_storage(database_url, Path("unused"))
    try:
        assert s.get_class("ABCDE").name == "4B"
        assert s.get_class("ABCDE").created_at > 1.7e9  # epoch seconds keep their digits (not float4)
        assert s.find_kid_by_name("ABCDE", "MIA").level == 2  # names match whatever the letter case
        assert s.car_of_kid("k1") == "car-1" and s.kids_of_car("car-1") == ["k1"]
        assert s.kv_get("progress", "k1") == {"done": ["l1"], "t": 1764700000.123456}
        assert [c.car_id for c in s.list_cars()] == ["car-1"]
    finally:
        s.close()


def test_sqlite_runs_in_wal_mode(tmp_path):
    db = tmp_path / "c.sqlite3"
    SqliteStorage(db).close()
    assert sqlite3.connect(db).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_assigning_a_kid_to_another_car_moves_them(database_url):
    s = opened(database_url)
    s.create_class("ABCDE", "4B")
    for k in ("a", "b", "c"):
        s.add_kid(k, "ABCDE", k.upper() + "x", 1)
    s.assign("car-1", ["a", "b"])
    s.assign("car-2", ["b", "c"])
    assert s.kids_of_car("car-1") == ["a"] and s.kids_of_car("car-2") == ["b", "c"]
    with pytest.raises(s.IntegrityError):
        s.assign("car-3", ["ghost"])  # unknown kids are refused, and nothing changed
    assert s.kids_of_car("car-3") == []
    s.assign("car-2", ["c", "b"])  # the order is the turn order
    assert s.kids_of_car("car-2") == ["c", "b"]
    s.close()


def test_features_add_tables_with_named_migrations_applied_once_in_order(database_url):
    s = opened(database_url)
    assert s.migrate("attempts:1", "CREATE TABLE attempts (id TEXT PRIMARY KEY, kid_id TEXT, t REAL, blob BLOB)")
    assert not s.migrate("attempts:1", "CREATE TABLE attempts (id TEXT PRIMARY KEY, kid_id TEXT)")
    s.execute("INSERT INTO attempts VALUES (?, ?, ?, ?)", ("a1", "k1", 1764700000.25, b"\x00\xff"))
    assert s.execute("SELECT kid_id, t, blob FROM attempts WHERE id = ?", ("a1",)) == [("k1", 1764700000.25, b"\x00\xff")]
    with pytest.raises(s.Error):
        s.migrate("broken:1", "CREATE TABLE half (x TEXT); CREATE TABLE oops (")
    assert not s.execute("SELECT name FROM migrations WHERE name = 'broken:1'")
    with pytest.raises(s.Error):  # the whole migration rolled back, its first table too
        s.execute("SELECT * FROM half")
    with pytest.raises(StorageError, match="rule migration_order: attempts:3 needs attempts:2 first"):
        s.migrate("attempts:3", "ALTER TABLE attempts ADD COLUMN extra TEXT")
    assert s.migrate("attempts:2", "ALTER TABLE attempts ADD COLUMN extra TEXT")
    assert [n for n, _ in s.status().features] == ["attempts:1", "attempts:2"]
    s.close()


def test_a_feature_migration_newer_than_the_code_stops_the_server(database_url):
    s = opened(database_url)
    s.migrate("attempts:1", "CREATE TABLE attempts (id TEXT PRIMARY KEY)")
    s.migrate("attempts:2", "ALTER TABLE attempts ADD COLUMN extra TEXT")
    s.close()
    older = opened(database_url)  # the older release only knows attempts:1
    assert not older.migrate("attempts:1", "CREATE TABLE attempts (id TEXT PRIMARY KEY)")
    with pytest.raises(SchemaTooNew) as refused:
        older.check_feature_versions()
    assert "rule feature_schema_version" in str(refused.value) and "attempts:2" in str(refused.value)
    assert "this code knows attempts:1" in str(refused.value) and "Fix:" in str(refused.value)
    older.close()


def test_core_migrations_are_numbered_recorded_and_applied_once_in_order(database_url):
    n = LATEST
    nxt = Migration(n + 1, "cars get a colour", "ALTER TABLE cars ADD COLUMN colour TEXT")
    after = Migration(n + 2, "a note per class", "CREATE TABLE class_notes (code TEXT PRIMARY KEY REFERENCES classes(code), "
                                                 "note TEXT NOT NULL)")
    s = opened(database_url)
    assert s.status().version == LATEST == CORE_MIGRATIONS[-1].version
    s.create_class("ABCDE", "4B")
    s.close()
    s = opened(database_url, CORE_MIGRATIONS + (nxt, after))  # the next release: two new migrations
    status = s.status()
    assert status.version == status.latest == n + 2
    assert [(v, w) for v, w, _ in status.applied] == [(m.version, m.what) for m in CORE_MIGRATIONS + (nxt, after)]
    assert [t for _, _, t in status.applied] == sorted(t for _, _, t in status.applied)  # in order
    s.execute("INSERT INTO class_notes VALUES (?, ?)", ("ABCDE", "bring the cars"))
    s.close()
    s = opened(database_url, CORE_MIGRATIONS + (nxt, after))  # opened again: nothing runs twice
    assert len(s.status().applied) == n + 2 and s.get_class("ABCDE").name == "4B"
    s.close()


def test_a_failing_core_migration_rolls_back_and_keeps_the_ones_before_it(database_url):
    nxt = Migration(LATEST + 1, "notes", "CREATE TABLE notes (x TEXT)")
    broken = Migration(LATEST + 2, "broken", "CREATE TABLE more_notes (x TEXT); ALTER TABLE no_such_table ADD COLUMN y TEXT")
    opened(database_url).close()
    probe = opened(database_url)
    with pytest.raises(probe.Error):
        opened(database_url, CORE_MIGRATIONS + (nxt, broken))
    assert probe.status().version == LATEST + 1
    assert probe.execute("SELECT COUNT(*) FROM notes") == [(0,)]
    with pytest.raises(probe.Error):
        probe.execute("SELECT * FROM more_notes")  # the broken one's first statement went with it
    probe.close()


def test_a_database_newer_than_the_code_is_refused_with_rule_value_and_fix(database_url):
    opened(database_url, CORE_MIGRATIONS + (Migration(LATEST + 1, "future", "CREATE TABLE future (x TEXT)"),)).close()
    with pytest.raises(SchemaTooNew) as refused:
        opened(database_url)
    message = str(refused.value)
    assert "rule schema_version" in message
    assert f"schema version {LATEST + 1}, newer than this MIKRO-DOJO's {LATEST}" in message
    assert "Fix: run the newer release" in message


def test_servers_starting_at_once_apply_each_migration_exactly_once(database_url):
    """Several processes (here: threads with their own connections) open a fresh database together."""
    extra = (Migration(LATEST + 1, "notes", "CREATE TABLE notes (x TEXT)"),)
    opened_ok: list[object] = []
    errors: list[BaseException] = []

    def start() -> None:
        try:
            s = opened(database_url, CORE_MIGRATIONS + extra)
            s.migrate("feature:1", "CREATE TABLE feature_rows (x TEXT)")
            opened_ok.append(s)
        except BaseException as exc:  # noqa: BLE001  reported below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert len(opened_ok) == 6
    first = opened_ok[0]
    assert first.execute("SELECT version FROM schema_version ORDER BY version") == [(v,) for v in range(1, LATEST + 2)]
    assert first.execute("SELECT name FROM migrations") == [("feature:1",)]
    for s in opened_ok:
        s.close()


def test_two_servers_on_one_database_see_each_others_writes_at_once(database_url):
    """Nothing is cached in the storage layer: what process A writes, process B reads on its next call."""
    a, b = opened(database_url), opened(database_url)
    try:
        a.create_class("ABCDE", "4B")
        a.add_kid("k1", "ABCDE", "Mia", 1)
        assert b.find_kid_by_name("ABCDE", "mia").kid_id == "k1"
        b.set_kid_level("k1", 3)
        assert a.get_kid("k1").level == 3
        b.assign("car-1", ["k1"])
        assert a.car_of_kid("k1") == "car-1"
        a.kv_put("class_level", "ABCDE", 2)
        assert b.kv_get("class_level", "ABCDE") == 2
        a.set_teacher_password_hash("h1")
        assert b.teacher_password_hash() == "h1"
        with pytest.raises(b.IntegrityError):  # the same name joining on both at once: one kid, not two
            b.add_kid("k2", "ABCDE", "MIA", 1)
    finally:
        a.close()
        b.close()


def test_kv_items_by_prefix_and_delete(database_url):
    s = opened(database_url)
    s.kv_put("programs", "k1/b", [2])
    s.kv_put("programs", "k1/a", 1)
    s.kv_put("programs", "k1/B", True)
    s.kv_put("programs", "k2/a", 3)
    s.kv_put("programs", "k1%", "percent")  # a literal % in a key is a key, not a wildcard
    assert s.kv_items("programs", "k1/") == [("k1/B", True), ("k1/a", 1), ("k1/b", [2])]  # code-point order
    assert s.kv_items("programs", "k1%") == [("k1%", "percent")]
    assert [k for k, _ in s.kv_items("programs")] == ["k1%", "k1/B", "k1/a", "k1/b", "k2/a"]  # no prefix: all
    s.kv_delete("programs", "k1/a")
    assert s.kv_get("programs", "k1/a", "gone") == "gone"
    s.close()


def test_request_log_is_written_in_batches_and_pruned(database_url):
    s = opened(database_url)
    s.log_requests([RequestLogEntry(float(i), "k1", "car-1", "move_forward", {"d": i}, "done", "", 0.1)
                    for i in range(5)])
    s.log_requests([RequestLogEntry(10.0, "k2", None, "stop", {}, "done", "", 0.0)])
    got = s.recent_requests(limit=3, kid_id="k1")
    assert [e.args["d"] for e in got] == [4, 3, 2]
    assert s.recent_requests(limit=1)[0].car_id is None
    assert s.prune_requests(max_rows=3, older_than=1.0) == 3  # t=0 by age, then all but the newest 3
    assert [e.t for e in s.recent_requests()] == [10.0, 4.0, 3.0]
    s.close()


def test_deleting_a_kid_removes_every_row_that_points_at_them(database_url):
    s = opened(database_url)
    s.migrate("saved:1", "CREATE TABLE saved (kid_id TEXT PRIMARY KEY REFERENCES kids(kid_id), program TEXT)")
    s.create_class("ABCDE", "4B")
    s.add_kid("k1", "ABCDE", "Mia", 1)
    s.add_kid("k2", "ABCDE", "Leo", 1)
    s.assign("car-1", ["k1", "k2"])
    s.execute("INSERT INTO saved VALUES (?, ?)", ("k1", "{}"))
    s.log_requests([RequestLogEntry(1.0, "k1", "car-1", "stop", {}, "done", "", 0.0)])
    assert s.delete_kid("k1") and not s.delete_kid("k1")
    assert s.get_kid("k1") is None and s.kids_of_car("car-1") == ["k2"]
    assert s.execute("SELECT COUNT(*) FROM saved") == [(0,)]
    assert len(s.recent_requests(kid_id="k1")) == 1  # the teacher's records stay
    s.close()


def test_a_bad_database_url_names_both_forms():
    with pytest.raises(ValueError, match=r"postgresql://user@host:port/name or sqlite:///path"):
        open_storage("mysql://root:secret@db/x", Path("unused"))


def test_an_unreachable_postgresql_is_refused_with_the_fix_and_without_the_password(postgres_server):
    from server.core.storage import DatabaseUnavailable

    url = f"postgresql://dojo:secret-pw@127.0.0.1:{postgres_server.port}/no_such_database"
    with pytest.raises(DatabaseUnavailable) as refused:
        open_storage(url, Path("unused"))
    message = str(refused.value)
    assert "rule database_reachable" in message and "no_such_database" in message and "Fix:" in message
    assert "secret-pw" not in message


def test_a_lost_postgresql_connection_is_opened_again(postgres_server, postgres_url):
    import psycopg

    s = opened(postgres_url)
    s.create_class("ABCDE", "4B")
    with psycopg.connect(postgres_server.url(), autocommit=True) as admin:  # the database server drops us
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'mikro-dojo'")
    with pytest.raises(s.Error):
        s.get_class("ABCDE")  # the call in flight fails...
    assert s.get_class("ABCDE").name == "4B"  # ...the next one has a new connection
    s.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_a_restarted_server_keeps_classes_levels_assignments_progress_and_tokens(tmp_path, request, backend):
    database = None if backend == "sqlite" else request.getfixturevalue("postgres_url")
    async with classroom_server(tmp_path, cars=["car-1"], database=database) as srv:
        teacher = await srv.teacher()
        try:
            status, body = await teacher.post("/api/teacher/classes", {"name": "Class 4B"})
            assert status == 201
            code = body["code"]
            mia = await srv.join("Mia", class_code=code)
            status, _ = await teacher.post(f"/api/teacher/classes/{code}/kids/{mia['kid_id']}/level", {"level": 3})
            assert status == 200
            status, _ = await teacher.post(f"/api/teacher/classes/{code}/level", {"level": 2})
            assert status == 200
            leo = await srv.join("Leo", class_code=code)
            status, _ = await teacher.post("/api/teacher/cars/car-1/assign", {"kid_ids": [mia["kid_id"], leo["kid_id"]]})
            assert status == 200
            srv.classroom.storage.kv_put("progress", mia["kid_id"], {"stars": 3})
        finally:
            await teacher.http.close()
    async with classroom_server(tmp_path, cars=["car-1"], database=database) as srv:
        again = await srv.join("mia", class_code=code, rejoin=True)
        assert again["kid_id"] == mia["kid_id"] and again["level"] == 2 and again["car_id"] == "car-1"
        assert (await srv.join("Leo", class_code=code, rejoin=True))["level"] == 2  # kids joined after the class level was set
        assert srv.classroom.storage.kv_get("progress", mia["kid_id"]) == {"stars": 3}
        sio = await srv.kid_socket(mia["token"])  # the old token still opens the socket (key kept on disk)
        assert sio.connected
        teacher = await srv.teacher()
        try:
            status, roster = await teacher.get(f"/api/teacher/classes/{code}/roster")
            assert status == 200
            assert {k["name"]: (k["level"], k["car_id"]) for k in roster["kids"]} == {
                "Mia": (2, "car-1"), "Leo": (2, "car-1")}
            status, classes = await teacher.get("/api/teacher/classes")
            assert {c["code"] for c in classes["classes"]} >= {"TEST", code}
        finally:
            await teacher.http.close()


def test_every_features_migration_and_upsert_runs_on_both_engines(database_url):
    """The features' own tables, as they declare them, with the features' kind of statements."""
    from server.kids.programs import MIGRATION as BLOCKLY
    from server.language.service import MIGRATION as PLANS
    from server.lessons.store import MIGRATION as ATTEMPTS
    from server.scratch.projects import MIGRATION as SCRATCH

    s = opened(database_url)
    try:
        for migration in (ATTEMPTS, BLOCKLY, SCRATCH, PLANS):
            assert s.migrate(*migration)
        s.create_class("ABCDE", "4B")
        s.add_kid("k1", "ABCDE", "Mia", 1)
        for saved_at in (1764700000.5, 1764700001.25):  # the programs' upsert, twice: one row, the newer one
            s.execute("INSERT INTO scratch_projects (kid_id, sb3, saved_at) VALUES (?, ?, ?) ON CONFLICT(kid_id) "
                      "DO UPDATE SET sb3 = excluded.sb3, saved_at = excluded.saved_at", ("k1", b"PK\x03\x04", saved_at))
        assert s.execute("SELECT sb3, saved_at FROM scratch_projects") == [(b"PK\x03\x04", 1764700001.25)]
        s.execute("INSERT INTO attempts (attempt_id, run_id, kid_id, class_code, lesson_id, car_id, source, started_at, "
                  "status, dir) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'recording', ?)",
                  ("a1", "r1", "k1", "ABCDE", "l1", None, "blockly", 1764700000.123456, "/x"))
        s.execute("UPDATE attempts SET passed = ?, stars = ?, final_stars = ? WHERE attempt_id = ?", (True, 3, 3, "a1"))
        assert s.execute("SELECT passed, stars, started_at, car_id FROM attempts WHERE status IN ('recording', 'grading')") \
            == [(1, 3, 1764700000.123456, None)]  # a bool goes in as 1, comes back as 1 on both
        s.execute("INSERT INTO plans (plan_id, t, kid_id, class_code, level, lesson_id, front_end, sentence, outcome, "
                  "answered_by, result) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                  ("p1", 1.5, "k1", "ABCDE", 1, None, "blockly", "drive 50% forward?", "planned", "reader", "{}"))
        assert s.execute("SELECT sentence, runs FROM plans WHERE class_code = ? ORDER BY t DESC LIMIT ?", ("ABCDE", 5)) \
            == [("drive 50% forward?", "[]")]
        assert s.delete_kid("k1")  # the programs' foreign keys point at kids: their rows go with the kid
        assert s.execute("SELECT COUNT(*) FROM scratch_projects") == [(0,)]
    finally:
        s.close()


# --- teacher accounts, stored sessions, ownership (issue 14) -----------------------------------------


def test_teacher_accounts_sessions_and_ownership_are_kept_across_reopen(database_url):
    from server.core.storage import SessionRecord

    s = opened(database_url)
    assert s.count_accounts() == 0
    s.add_account("ana", "scrypt$hash", "teacher")
    s.add_account("root", "scrypt$other", "admin")
    s.put_session(SessionRecord("h1", "ana", 10.0, 100.0))
    s.put_session(SessionRecord("h2", "ana", 10.0, 50.0))
    s.put_session(SessionRecord("h3", "root", 10.0, 100.0))
    s.create_class("ANA1", "Ana's")
    s.set_class_owner("ANA1", "ana")
    s.set_car_class("car-1", "ANA1")
    s.close()
    s = opened(database_url)
    try:
        assert [a.username for a in s.list_accounts()] == ["ana", "root"] and s.count_accounts() == 2
        assert s.get_account("ana").role == "teacher" and s.account_password_hash("ana") == "scrypt$hash"
        assert s.get_session("h1") == SessionRecord("h1", "ana", 10.0, 100.0)
        assert (s.class_owner("ANA1"), s.car_class("car-1")) == ("ana", "ANA1")
        assert s.delete_expired_sessions(60.0) == 1 and s.get_session("h2") is None
        assert s.set_account_disabled("ana", True) and s.get_account("ana").disabled
        assert not s.set_account_disabled("nobody", True)
        assert s.delete_sessions_of("ana") == 1 and s.get_session("h3") is not None
        assert s.delete_account("ana") and s.get_account("ana") is None
        assert s.class_owner("ANA1") is None and s.get_class("ANA1") is not None  # the class stays, nobody's
        s.set_car_class("car-1", None)
        assert s.car_class("car-1") is None
    finally:
        s.close()


def test_an_older_database_gains_the_teacher_tables_and_keeps_everything(database_url):
    s = opened(database_url, CORE_MIGRATIONS[:1])  # the schema before teacher accounts (core version 1)
    s.create_class("ABCDE", "4B")
    s.add_kid("k1", "ABCDE", "Mia", 2)
    s.close()
    s = opened(database_url)
    try:
        assert s.status().version == 2 and s.count_accounts() == 0 and s.get_kid("k1").level == 2
    finally:
        s.close()


def test_a_database_where_the_teacher_tables_came_as_a_feature_migration_keeps_its_accounts(database_url):
    """Before versioned migrations the teacher tables were made by a named migration ("teachers:1")."""
    s = opened(database_url, CORE_MIGRATIONS[:1])
    s.migrate("teachers:1", CORE_MIGRATIONS[1].sql)
    s.add_account("ana", "scrypt$hash", "teacher")
    s.close()
    s = opened(database_url)
    try:
        assert s.status().version == 2 and s.get_account("ana").role == "teacher"
    finally:
        s.close()


def test_the_request_log_of_some_kids_only(database_url):
    s = opened(database_url)
    s.log_requests([RequestLogEntry(float(i), kid, None, "move_forward", {}, "done", "", 0.1)
                    for i, kid in enumerate(["a", "b", "a", "c"])])
    assert [(e.t, e.kid_id) for e in s.recent_requests_of(["a", "c"], 10)] == [(3.0, "c"), (2.0, "a"), (0.0, "a")]
    assert [e.t for e in s.recent_requests_of(["a"], 1)] == [2.0] and s.recent_requests_of([], 5) == []
    s.close()
