"""Kids' data is the owner's only: a real server writes its database (the teacher's password hash), the
kid-token key, recordings and frames as 0600 files in 0700 folders, created with that mode from the
start (no file is ever chmodded after it was written). Checked with real files and ``os.stat``; an audit
hook (Python's own record of every ``open`` and ``chmod``) is the independent witness for "from the start".

Before the fix: the database and frames were 0644 in 0755 folders and the secret key was written, then
chmodded (each test below failed).
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "curriculum"))  # fake_ollama
from core_harness import CALL_TIMEOUT_S, classroom_server, wait_for  # noqa: E402
from fake_ollama import FakeOllama  # noqa: E402

from curriculum.coach import Coach, CoachConfig  # noqa: E402
from robot_runtime.private_files import create_private, open_private, private_dir, write_private  # noqa: E402
from server.demo import demo_password  # noqa: E402
from server.lessons.service import ATTEMPTS  # noqa: E402

pytestmark = pytest.mark.timeout(120)
GRADED_WAIT_S = 60.0  # the car finishes, rests, then judge + frames + the local coach stand-in (a busy machine)

_watched: list[tuple[str, str, int]] = []  # (event, path, mode or flags) while a test watches
_watching: list[Path] = []


def _audit(event: str, args: tuple) -> None:
    if not _watching or event not in ("open", "os.chmod"):
        return
    path = args[0]
    if isinstance(path, (str, bytes, os.PathLike)) and not isinstance(path, int):
        p = os.fsdecode(path)
        if any(p.startswith(str(root)) for root in _watching):
            _watched.append((event, p, args[1] if event == "os.chmod" else (args[2] if len(args) > 2 else 0)))


sys.addaudithook(_audit)


@contextlib.contextmanager
def watching(root: Path):
    _watched.clear()
    _watching.append(root)
    try:
        yield _watched
    finally:
        _watching.remove(root)


@contextlib.contextmanager
def umask(value: int):
    old = os.umask(value)
    try:
        yield
    finally:
        os.umask(old)


def modes_under(root: Path) -> dict[str, int]:
    """Every folder and file below root (root included) -> its permission bits."""
    found = {str(root): stat.S_IMODE(os.stat(root).st_mode)}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            found[str(p.relative_to(root))] = stat.S_IMODE(os.lstat(p).st_mode)
    return found


def open_to_others(root: Path) -> dict[str, str]:
    wrong = {}
    for name, mode in modes_under(root).items():
        p = root / name if name != str(root) else root
        want = 0o700 if p.is_dir() else 0o600
        if mode & 0o077 or (mode & want) != want:
            wrong[name] = oct(mode)
    return wrong


@pytest.mark.parametrize("mask", [0o022, 0o000])
def test_private_files_are_0600_in_0700_folders_from_their_first_byte(tmp_path, mask):
    root = tmp_path / "data"
    with umask(mask), watching(tmp_path) as seen:
        private_dir(root / "a" / "b")
        write_private(root / "secret", "s3cret")
        write_private(root / "a" / "frame.png", b"\x89PNG")
        with open_private(root / "logs" / "car-1.log", "ab") as f:
            f.write(b"hello\n")
        with open_private(root / "a" / "b" / "recording.jsonl", "a", encoding="utf-8") as f:
            f.write("{}\n")
        create_private(root / "db.sqlite3")
    assert open_to_others(root) == {}, modes_under(root)
    assert modes_under(root)[str(root)] == 0o700
    assert not [e for e in seen if e[0] == "os.chmod"], "no file may be chmodded after it was written"
    # an existing file keeps its content; a rewrite replaces it atomically, still 0600
    write_private(root / "secret", "new")
    assert (root / "secret").read_text() == "new" and stat.S_IMODE(os.stat(root / "secret").st_mode) == 0o600


def test_an_old_world_readable_data_folder_is_closed_when_opened(tmp_path):
    root = tmp_path / "old"
    root.mkdir(mode=0o755)
    os.chmod(root, 0o755)
    (root / "classroom.sqlite3").write_text("")  # an old version's file, 0644
    private_dir(root)
    assert stat.S_IMODE(os.stat(root).st_mode) == 0o700  # nothing inside is reachable by others any more


def test_a_file_where_the_data_folder_should_be_is_refused_with_its_name(tmp_path):
    (tmp_path / "data").write_text("oops")
    with pytest.raises(NotADirectoryError, match="data must be a folder"):
        private_dir(tmp_path / "data")


def test_demo_teacher_password_file_is_0600_from_the_start(tmp_path):
    with umask(0o022), watching(tmp_path) as seen:
        password = demo_password(tmp_path)
    assert (tmp_path / "teacher-password.txt").read_text().strip() == password
    assert stat.S_IMODE(os.stat(tmp_path / "teacher-password.txt").st_mode) == 0o600
    assert not [e for e in seen if e[0] == "os.chmod"]


async def test_a_real_server_keeps_database_secret_recordings_and_frames_owner_only(tmp_path):
    data = tmp_path / "server"
    fake = await FakeOllama().start()
    try:
        with umask(0o022), watching(tmp_path) as seen:
            async with classroom_server(data, cars=["car-1"]) as srv:
                srv.handle.app[ATTEMPTS].coach = Coach(CoachConfig(host=fake.url, timeout_s=5))
                kid = await srv.join("Mia")
                auth = {"Authorization": f"Bearer {kid['token']}"}
                async with srv.http.post(f"{srv.url}/api/lessons/select", json={"lesson_id": "l1-wake-up"},
                                         headers=auth) as resp:
                    assert resp.status == 200, await resp.text()
                sio = await srv.kid_socket(kid["token"])
                lesson = srv.handle.app[ATTEMPTS].lesson_set.get("l1-wake-up")
                started = await sio.call("run_start", {"source": "blockly", "program": lesson.solution.blockly,
                                                       "lesson_id": "l1-wake-up"}, namespace="/kid",
                                         timeout=CALL_TIMEOUT_S)
                assert started["status"] == "ok", started
                reply = await sio.call("block", {"block": "move_forward", "args": {"distance": 180},
                                                 "run_id": started["run_id"]}, namespace="/kid", timeout=CALL_TIMEOUT_S)
                assert reply["status"] == "done", reply
                await sio.call("run_end", {"run_id": started["run_id"], "reason": "finished"}, namespace="/kid",
                               timeout=CALL_TIMEOUT_S)
                store = srv.handle.app[ATTEMPTS].store
                await wait_for(lambda: any(r["status"] == "graded" for r in store.rows_of_kid(kid["kid_id"], None)),
                               "the attempt graded (frames drawn)", GRADED_WAIT_S)
        files = modes_under(data)
        assert "classroom.sqlite3" in files and "secret_key" in files, files
        assert any(name.endswith("recording.jsonl") for name in files), files
        assert any(name.endswith("overlay.png") for name in files), files
        assert open_to_others(data) == {}, files
        chmodded_files = [e for e in seen if e[0] == "os.chmod" and not Path(e[1]).is_dir()]
        assert chmodded_files == [], f"files must be created 0600, never chmodded after: {chmodded_files}"
    finally:
        await fake.stop()
