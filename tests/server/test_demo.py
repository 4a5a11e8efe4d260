"""`dojo demo` and `dojo server` as a person runs them: real processes, real ports, clean shutdown."""

from __future__ import annotations

import signal
import subprocess
import sys

import psutil
import pytest
import requests

from demo_harness import HTTP_TIMEOUT_S, REPO_ROOT, join_kid_http, start_demo

REAP_TIMEOUT_S = 5.0  # the demo reaps its cars before it exits; this only bounds a failing test


def test_demo_serves_health_with_its_four_cars_connected(demo_server):
    health = requests.get(demo_server.url("/api/health"), timeout=HTTP_TIMEOUT_S).json()
    assert health["ok"] is True
    assert health["cars_connected"] == 4
    assert health["cars"] == ["car-1", "car-2", "car-3", "car-4"]


def test_demo_banner_names_every_page_and_the_teacher_password(demo_server):
    assert not demo_server.base_url.endswith(":0")  # --port 0: the real port is printed
    banner = demo_server.output
    for page in ("/scratch/", "/blockly/", "/teacher/", "/arena/", "/api/health"):
        assert f"{demo_server.base_url}{page}" in banner
    assert demo_server.teacher_password in banner and "DEMO" in banner
    assert banner.strip().splitlines()[-1] == f"MIKRO-DOJO READY {demo_server.base_url}"


def test_each_joining_kid_gets_a_free_car_of_the_demo(demo_server):
    cars = [join_kid_http(demo_server, name)["car_id"] for name in ("Ada", "Ben", "Cleo", "Dev")]
    assert sorted(cars) == ["car-1", "car-2", "car-3", "car-4"]


def test_demo_cars_start_at_different_poses_inside_the_arena(demo_server):
    poses = []
    for i in range(1, 5):
        answer = requests.get(demo_server.url("/api/arena"), params={"car": f"car-{i}"}, timeout=HTTP_TIMEOUT_S).json()
        start, arena = answer["start"], answer["arena"]
        assert 0 < start["x_cm"] < arena["width_cm"] and 0 < start["y_cm"] < arena["height_cm"]
        poses.append((start["x_cm"], start["y_cm"]))
    assert len(set(poses)) == 4


def test_demo_car_processes_get_their_tokens_by_environment_not_on_the_command_line(demo_server):
    """`ps` shows every user each process's command line; the environment only its owner (issue 17)."""
    demo = psutil.Process(demo_server.process.pid)
    cars = [p for p in demo.children(recursive=True) if "car" in p.cmdline()]
    assert len(cars) == 4
    tokens = []
    for proc in cars:
        argv = proc.cmdline()
        assert not any("token" in arg.lower() for arg in argv), argv
        token = proc.environ().get("DOJO_CAR_TOKEN", "")
        assert len(token) >= 16, "the car got no token in its environment"
        tokens.append(token)
    assert len(set(tokens)) == 4  # one per car
    for proc in psutil.process_iter(["cmdline"]):  # no process on the machine shows a car's token
        line = " ".join(proc.info["cmdline"] or [])
        assert not any(token in line for token in tokens), proc.info["cmdline"]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_demo_stops_every_car_process_and_closes_the_database_on(sig, tmp_path):
    with start_demo(tmp_path, cars=2) as demo:
        demo_proc = psutil.Process(demo.process.pid)
        cars = [p for p in demo_proc.children(recursive=True) if "car" in p.cmdline()]
        assert len(cars) == 2
        demo.process.send_signal(sig)
        assert demo.process.wait(timeout=REAP_TIMEOUT_S + 10) == 0
        gone, alive = psutil.wait_procs(cars, timeout=REAP_TIMEOUT_S)
        assert not alive, f"orphaned car processes: {alive}"
        assert "dojo demo: stopped." in demo.output
    db = tmp_path / "server" / "classroom.sqlite3"
    assert db.exists() and not db.with_name(db.name + "-wal").exists()  # SQLite removes the WAL on a clean close


def test_dojo_server_runs_alone_and_stops_on_sigterm(tmp_path):
    config = tmp_path / "classroom.yaml"
    config.write_text("teacher_password: secret-pw\ncar_tokens:\n  car-1: a-long-car-token\n")
    proc = subprocess.Popen([sys.executable, "-m", "dojo", "server", "--port", "0", "--data-dir", str(tmp_path / "d"),
                             "--config", str(config)], cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("MIKRO-DOJO server on http://127.0.0.1:"), line
        url = line.split()[3]
        assert requests.get(f"{url}/api/health", timeout=HTTP_TIMEOUT_S).json()["cars_connected"] == 0
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        proc.kill()


def test_dojo_server_names_the_field_of_a_bad_config(tmp_path):
    config = tmp_path / "classroom.yaml"
    config.write_text("port: 99999\n")
    result = subprocess.run([sys.executable, "-m", "dojo", "server", "--config", str(config)], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "port" in result.stderr and "99999" in result.stderr and str(config) in result.stderr


def test_a_second_demo_on_a_taken_port_says_so_and_suggests_another(demo_server, tmp_path):
    port = demo_server.base_url.rsplit(":", 1)[1]
    result = subprocess.run([sys.executable, "-m", "dojo", "demo", "--port", port, "--cars", "0", "--data-dir",
                             str(tmp_path), "--no-open"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr and "--port" in result.stderr


def test_car_processes_die_with_a_demo_that_is_killed_outright(tmp_path):
    with start_demo(tmp_path, cars=2) as demo:
        cars = [p for p in psutil.Process(demo.process.pid).children(recursive=True) if "car" in p.cmdline()]
        assert len(cars) == 2
        demo.process.kill()  # SIGKILL: no cleanup code of the demo runs
        demo.process.wait(timeout=REAP_TIMEOUT_S)
        _, alive = psutil.wait_procs(cars, timeout=REAP_TIMEOUT_S)
        assert not alive, f"orphaned car processes: {alive}"


def test_dojo_server_without_a_password_says_how_to_set_one_and_the_example_config_is_valid(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "dojo", "server", "--port", "0", "--data-dir", str(tmp_path / "d")],
                            cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = [proc.stdout.readline() for _ in range(6)]
        text = "".join(lines)
        assert "no teacher password yet" in text and "classroom.example.yaml" in text and "--config" in text, text
        url = lines[0].split()[3]
        assert "Scratch" in requests.get(f"{url}/", timeout=HTTP_TIMEOUT_S).text  # the landing page
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        proc.kill()
    from server.main import EXAMPLE_CONFIG, load_config

    example = load_config(EXAMPLE_CONFIG)  # what the hint tells a teacher to copy must load
    assert example.teacher_password and example.car_tokens


def test_dojo_version_prints_the_package_version():
    result = subprocess.run([sys.executable, "-m", "dojo", "--version"], cwd=REPO_ROOT, capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 0 and result.stdout.strip() == "mikro-dojo 0.1.0"
