"""Storage: SQLite (WAL) behind one small interface; a restarted server keeps its classroom."""

from __future__ import annotations

import sqlite3

import pytest

from core_harness import classroom_server
from server.core.storage import RequestLogEntry, SqliteStorage


def test_sqlite_runs_in_wal_mode_and_keeps_data_across_reopen(tmp_path):
    db = tmp_path / "c.sqlite3"
    s = SqliteStorage(db)
    s.create_class("ABCDE", "4B")
    s.add_kid("k1", "ABCDE", "Mia", 2)
    s.upsert_car("car-1", "sim")
    s.assign("car-1", ["k1"])
    s.kv_put("progress", "k1", {"done": ["l1"]})
    s.close()
    assert sqlite3.connect(db).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    s = SqliteStorage(db)
    assert s.get_class("ABCDE").name == "4B"
    assert s.find_kid_by_name("ABCDE", "MIA").level == 2  # names match whatever the letter case
    assert s.car_of_kid("k1") == "car-1" and s.kids_of_car("car-1") == ["k1"]
    assert s.kv_get("progress", "k1") == {"done": ["l1"]}
    s.close()


def test_assigning_a_kid_to_another_car_moves_them(tmp_path):
    s = SqliteStorage(tmp_path / "c.sqlite3")
    s.create_class("ABCDE", "4B")
    for k in ("a", "b", "c"):
        s.add_kid(k, "ABCDE", k.upper() + "x", 1)
    s.assign("car-1", ["a", "b"])
    s.assign("car-2", ["b", "c"])
    assert s.kids_of_car("car-1") == ["a"] and s.kids_of_car("car-2") == ["b", "c"]
    with pytest.raises(sqlite3.IntegrityError):
        s.assign("car-3", ["ghost"])  # unknown kids are refused, and nothing changed
    assert s.kids_of_car("car-3") == []


def test_features_add_tables_with_named_migrations_applied_once(tmp_path):
    s = SqliteStorage(tmp_path / "c.sqlite3")
    assert s.migrate("attempts:1", "CREATE TABLE attempts (id TEXT PRIMARY KEY, kid_id TEXT)")
    assert not s.migrate("attempts:1", "CREATE TABLE attempts (id TEXT PRIMARY KEY, kid_id TEXT)")
    s.execute("INSERT INTO attempts VALUES (?, ?)", ("a1", "k1"))
    assert s.execute("SELECT kid_id FROM attempts WHERE id = ?", ("a1",)) == [("k1",)]
    with pytest.raises(sqlite3.OperationalError):
        s.migrate("broken:1", "CREATE TABLE oops (")
    assert not s.execute("SELECT name FROM migrations WHERE name = 'broken:1'")


def test_kv_items_by_prefix_and_delete(tmp_path):
    s = SqliteStorage(":memory:")
    s.kv_put("programs", "k1/a", 1)
    s.kv_put("programs", "k1/b", [2])
    s.kv_put("programs", "k2/a", 3)
    assert s.kv_items("programs", "k1/") == [("k1/a", 1), ("k1/b", [2])]
    s.kv_delete("programs", "k1/a")
    assert s.kv_get("programs", "k1/a", "gone") == "gone"


def test_request_log_is_written_in_batches(tmp_path):
    s = SqliteStorage(":memory:")
    s.log_requests([RequestLogEntry(float(i), "k1", "car-1", "move_forward", {"d": i}, "done", "", 0.1)
                    for i in range(5)])
    got = s.recent_requests(limit=3, kid_id="k1")
    assert [e.args["d"] for e in got] == [4, 3, 2]


async def test_a_restarted_server_keeps_classes_levels_assignments_progress_and_tokens(tmp_path):
    async with classroom_server(tmp_path, cars=["car-1"]) as srv:
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
    async with classroom_server(tmp_path, cars=["car-1"]) as srv:
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


# --- teacher accounts, stored sessions, ownership (issue 14) -----------------------------------------


def test_teacher_accounts_sessions_and_ownership_are_kept_across_reopen(tmp_path):
    from server.core.storage import SessionRecord

    db = tmp_path / "c.sqlite3"
    s = SqliteStorage(db)
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
    s = SqliteStorage(db)
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


def test_an_older_database_gains_the_teacher_tables_and_keeps_everything(tmp_path):
    db = tmp_path / "c.sqlite3"
    s = SqliteStorage(db)
    s.create_class("ABCDE", "4B")
    s.add_kid("k1", "ABCDE", "Mia", 2)
    s.close()
    old = sqlite3.connect(db)  # today's schema before issue 14: no teacher tables, no migration row
    for table in ("teacher_accounts", "teacher_sessions", "class_owners", "car_classes"):
        old.execute(f"DROP TABLE {table}")
    old.execute("DELETE FROM migrations WHERE name = 'teachers:1'")
    old.commit()
    old.close()
    s = SqliteStorage(db)
    try:
        assert s.count_accounts() == 0 and s.get_kid("k1").level == 2
        assert s.execute("SELECT name FROM migrations WHERE name = 'teachers:1'") == [("teachers:1",)]
    finally:
        s.close()


def test_the_request_log_of_some_kids_only(tmp_path):
    s = SqliteStorage(":memory:")
    s.log_requests([RequestLogEntry(float(i), kid, None, "move_forward", {}, "done", "", 0.1)
                    for i, kid in enumerate(["a", "b", "a", "c"])])
    assert [(e.t, e.kid_id) for e in s.recent_requests_of(["a", "c"], 10)] == [(3.0, "c"), (2.0, "a"), (0.0, "a")]
    assert [e.t for e in s.recent_requests_of(["a"], 1)] == [2.0] and s.recent_requests_of([], 5) == []
    s.close()
