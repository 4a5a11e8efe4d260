"""`dojo car pair` against a stand-in for the server's pairing endpoint (the HTTP contract in
robot_runtime/pairing.py; the classroom server implements it with the console's "Add a car")."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading

import pytest
import yaml
from aiohttp import web

from robot_runtime.config import load_car_config
from robot_runtime.protocol import PROTOCOL_VERSION

pytestmark = pytest.mark.timeout(60)


class PairingServer:
    """Codes that work once: {code: car_id}; records what the car sent."""

    def __init__(self, codes: dict[str, str]) -> None:
        self.codes, self.used, self.requests = codes, set(), []
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()
        self._started.wait(10)

    async def pair(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append(body)
        code = body["code"]
        if code in self.used:
            return web.json_response({"error": {"rule": "pair_code_used", "message": "that code was already used",
                                                "fix": "press \"Add a car\" again for a new code"}}, status=409)
        if code not in self.codes:
            return web.json_response({"error": {"rule": "pair_code_unknown", "message": "no such code",
                                                "fix": "check the letters on the console"}}, status=404)
        self.used.add(code)
        return web.json_response({"car_id": self.codes[code], "token": f"tok-{code}", "server_url": self.url})

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_post("/api/cars/pair", self.pair)
        runner = web.AppRunner(app)
        self._loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        self.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
        self._started.set()
        self._loop.run_forever()


def dojo(*args, cwd):
    return subprocess.run([sys.executable, "-m", "dojo", "car", *args], capture_output=True, text=True, timeout=30,
                          cwd=cwd, env=os.environ)


def test_pair_stores_the_token_and_the_server_in_the_config_and_a_code_works_once(tmp_path):
    server = PairingServer({"K7Q2MX": "car-7"})
    (tmp_path / "arena.yaml").write_text("name: floor\nwidth_cm: 300\nheight_cm: 300\n")
    (tmp_path / "car.yaml").write_text(yaml.safe_dump({"car_id": "car-1", "hardware": "gpio", "arena_file": "arena.yaml",
                                                       "token": "pair-me"}))
    out = dojo("pair", server.url, "k7q-2mx", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    cfg = load_car_config(tmp_path / "car.yaml")
    assert (cfg.car_id, cfg.token, cfg.server_url) == ("car-7", "tok-K7Q2MX", server.url)
    assert server.requests[0] == {"code": "K7Q2MX", "car_id": "car-1", "kind": "real", "hardware": "gpio",
                                  "protocol": PROTOCOL_VERSION}
    assert (tmp_path / "car.yaml").stat().st_mode & 0o077 == 0
    again = dojo("pair", server.url, "K7Q2MX", cwd=tmp_path)
    assert again.returncode == 1 and "already used" in again.stderr and "Add a car" in again.stderr


def test_pair_errors_say_what_to_do(tmp_path):
    (tmp_path / "car.yaml").write_text("car_id: car-1\n")
    bad = dojo("pair", "http://127.0.0.1:9", "ABCD", cwd=tmp_path)
    assert bad.returncode == 1 and "cannot reach" in bad.stderr
    typo = dojo("pair", "http://127.0.0.1:9", "A!", cwd=tmp_path)
    assert typo.returncode == 1 and "not a pairing code" in typo.stderr
    assert yaml.safe_load((tmp_path / "car.yaml").read_text()) == {"car_id": "car-1"}  # untouched
