"""The Blockly app's server side: the gate's program check at run_start, saved programs per kid, the page.

A real app on a loopback port (server.runner.start_server), real HTTP (aiohttp client) and a real
socket.io client on /kid; no cars are needed for any of these promises.
"""

from __future__ import annotations

import json

import aiohttp
import pytest
import socketio

from curriculum.blockly_json import forward, program, repeat, skill, turn
from server.core.config import ServerConfig
from server.runner import start_server

CLASS = "DEMO"
CONNECT_TIMEOUT_S = 5.0  # loopback handshake
ACK_TIMEOUT_S = 5.0  # run_start only checks the program: milliseconds on loopback


# --- through a real server ---------------------------------------------------------------------------


@pytest.fixture
async def server(tmp_path):
    config = ServerConfig(port=0, data_dir=tmp_path / "data", default_class_code=CLASS, teacher_password="test-pw-1234")
    handle = await start_server(config)
    try:
        yield handle
    finally:
        await handle.close()


def join(handle, name, level=1):
    kid, token, _car = handle.classroom.join(CLASS, name)
    if level != kid.level:
        handle.classroom.set_level(kid.kid_id, level)
    return kid, token


async def kid_socket(handle, token):
    sio = socketio.AsyncClient(reconnection=False)
    await sio.connect(handle.base_url, namespaces=["/kid"], auth={"token": token}, transports=["websocket"],
                      wait_timeout=CONNECT_TIMEOUT_S)
    return sio


async def test_run_start_with_a_hand_edited_locked_block_is_refused_naming_the_block(server):
    _kid, token = join(server, "Mia", level=1)
    sio = await kid_socket(server, token)
    try:
        locked = dict(skill("drift"), id="sk2")
        reply = await sio.call("run_start", {"source": "blockly", "program": program(forward(20), locked)},
                               namespace="/kid", timeout=ACK_TIMEOUT_S)
        assert reply["status"] == "refused" and reply["rule"] == "block_locked"
        assert reply["kid_text"] == "The “do skill …” block unlocks at level 3 — keep going!"
        assert "(block sk2)" in reply["detail"]
        ok = await sio.call("run_start", {"source": "blockly", "program": program(repeat(4, forward(20), turn("left", 90)))},
                            namespace="/kid", timeout=ACK_TIMEOUT_S)
        assert ok["status"] == "ok" and ok["run_id"]
        assert sio.connected  # a refusal never costs the connection
    finally:
        await sio.disconnect()


async def test_a_saved_program_comes_back_for_the_same_kid_and_after_a_server_restart(tmp_path):
    config = ServerConfig(port=0, data_dir=tmp_path / "data", default_class_code=CLASS, teacher_password="test-pw-1234")
    saved = program(repeat(4, forward(20), turn("left", 90)))
    handle = await start_server(config)
    try:
        _kid, token = join(handle, "Ada")
        headers = {"Authorization": f"Bearer {token}"}
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{handle.base_url}/api/programs/current", headers=headers) as resp:
                assert resp.status == 200 and (await resp.json())["program"] is None
            async with http.put(f"{handle.base_url}/api/programs/current", headers=headers, json={"program": saved}) as resp:
                assert resp.status == 200 and (await resp.json())["saved_at"] > 0
    finally:
        await handle.close()
    handle = await start_server(config)  # same data dir: what a kid sees after reopening the page tomorrow
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{handle.base_url}/api/programs/current", headers=headers) as resp:
                assert resp.status == 200 and (await resp.json())["program"] == saved
    finally:
        await handle.close()


async def test_programs_are_per_kid_and_need_the_kids_token(server):
    _a, token_a = join(server, "Ada")
    _b, token_b = join(server, "Ben")
    url = f"{server.base_url}/api/programs/current"
    async with aiohttp.ClientSession() as http:
        async with http.put(url, headers={"Authorization": f"Bearer {token_a}"}, json={"program": program(forward(20))}) as resp:
            assert resp.status == 200
        async with http.get(url, headers={"Authorization": f"Bearer {token_b}"}) as resp:
            assert (await resp.json())["program"] is None  # Ben never sees Ada's program
        async with http.get(url) as resp:
            assert resp.status == 401
            error = (await resp.json())["error"]
            assert error["rule"] == "kid_token_missing" and "Authorization: Bearer" in error["fix"]
        async with http.get(url, headers={"Authorization": "Bearer forged.token"}) as resp:
            assert resp.status == 401 and (await resp.json())["error"]["message"]


async def test_saving_something_that_is_not_a_workspace_is_refused_with_the_rule_and_the_fix(server):
    _kid, token = join(server, "Ada")
    url = f"{server.base_url}/api/programs/current"
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    async with aiohttp.ClientSession() as http:
        async with http.put(url, headers=headers, data=b"{not json") as resp:
            assert resp.status == 400 and (await resp.json())["error"]["rule"] == "program_json"
        async with http.put(url, headers=headers, data=json.dumps({"program": [1, 2]})) as resp:
            error = (await resp.json())["error"]
            assert resp.status == 400 and error["rule"] == "program_shape" and "Blockly" in error["fix"]
        depth = 3000  # Blockly nests every `next`: a pasted stack of thousands of blocks
        deep = ('{"program": {"blocks": {"blocks": [' + '{"type": "dojo_stop", "next": {"block": ' * depth + '{"type": "dojo_stop"}'
                + '}}' * depth + ']}}}')
        async with http.put(url, headers=headers, data=deep.encode()) as resp:
            assert resp.status == 400 and (await resp.json())["error"]["rule"] == "program_depth"
        big = {"program": {"blocks": {"blocks": []}, "pad": "x" * (600 * 1024)}}
        async with http.put(url, headers=headers, data=json.dumps(big)) as resp:
            assert resp.status in (400, 413)


async def test_the_app_and_blocklys_media_are_served_locally(server):
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{server.base_url}/blockly/") as resp:
            assert resp.status == 200 and "<title>" in await resp.text()
        for path in ("/blockly/lib/blockly/blockly_compressed.js", "/blockly/lib/blockly/media/sprites.svg",
                     "/blockly/lib/blockly/msg/en.js", "/blockly/src/app.js", "/vendor/socket.io.min.js"):
            async with http.get(server.base_url + path) as resp:
                assert resp.status == 200, path
