"""The Blockly app's server side: the program check at run_start, saved programs per kid, the page.

A real app on a loopback port (server.runner.start_server), real HTTP (aiohttp client) and a real
socket.io client on /kid; no cars are needed for any of these promises.
"""

from __future__ import annotations

import json

import aiohttp
import pytest
import socketio

from server.core.config import ServerConfig
from server.kids.programs import MAX_PROGRAM_BLOCKS, check_blockly_program
from server.runner import start_server

CLASS = "DEMO"
CONNECT_TIMEOUT_S = 5.0  # loopback handshake
ACK_TIMEOUT_S = 5.0  # run_start only checks the program: milliseconds on loopback


def number(n):
    return {"shadow": {"type": "math_number", "fields": {"NUM": n}}}


def program(*blocks):
    """A Blockly workspace JSON with the given top blocks."""
    return {"blocks": {"languageVersion": 0, "blocks": list(blocks)}}


def stack(*blocks):
    """Chain blocks through `next` (Blockly's serialization of a stack)."""
    first = dict(blocks[0])
    node = first
    for b in blocks[1:]:
        node["next"] = {"block": dict(b)}
        node = node["next"]["block"]
    return first


FORWARD = {"type": "dojo_move_forward", "id": "fwd", "inputs": {"DISTANCE": number(20)}}
TURN = {"type": "dojo_turn", "id": "trn", "fields": {"DIRECTION": "left"}, "inputs": {"DEGREES": number(90)}}
SKILL_SLALOM = {"type": "dojo_do_skill", "id": "sk1", "fields": {"SKILL": "slalom"}}
SKILL_DRIFT = {"type": "dojo_do_skill", "id": "sk2", "fields": {"SKILL": "drift"}}
GO_TO = {"type": "dojo_go_to", "id": "goto1", "inputs": {"X": number(100), "Y": number(50)}}


def repeat(times, *body):
    return {"type": "controls_repeat_ext", "id": "rep", "inputs": {"TIMES": number(times), "DO": {"block": stack(*body)}}}


# --- the check itself: one row per promise -----------------------------------------------------------

CHECK_ROWS = [
    # (level, program, expected rule or None, expected kid text or None)
    (1, program(stack(FORWARD, TURN)), None, None),
    (1, program(repeat(4, FORWARD, TURN)), None, None),
    (1, program(stack(FORWARD, SKILL_SLALOM)), "program_block_locked", "The 'do skill' block unlocks at level 3."),
    (1, program(repeat(4, FORWARD, GO_TO)), "program_block_locked", "The 'go to' block unlocks at level 3."),
    (3, program(stack(FORWARD, SKILL_SLALOM)), None, None),
    (3, program(stack(SKILL_DRIFT)), "program_skill_locked", "The 'drift' skill unlocks at level 4."),
    (4, program(stack(SKILL_DRIFT)), None, None),
    (4, program({"type": "text_print", "id": "p"}), "program_unknown_block",
     "I don't know the block 'text_print' — it isn't a MIKRO-DOJO block."),
    (1, program({"type": "dojo_when_obstacle", "id": "hat", "fields": {"DISTANCE": 20}}), "program_block_locked",
     "The 'when obstacle' block unlocks at level 2."),
]


@pytest.mark.parametrize("level,prog,rule,kid_text", CHECK_ROWS)
def test_program_check_refuses_the_first_locked_block_naming_it(level, prog, rule, kid_text):
    refusal = check_blockly_program(level, prog)
    if rule is None:
        assert refusal is None
    else:
        assert refusal is not None and refusal.rule == rule
        assert refusal.kid_text == kid_text


def test_program_check_finds_a_locked_block_hidden_in_a_function_and_a_shadow_slot():
    hidden = {"type": "procedures_defnoreturn", "id": "fn", "fields": {"NAME": "tricks"},
              "inputs": {"STACK": {"block": stack(FORWARD, {"type": "controls_if", "id": "if1", "inputs": {
                  "IF0": {"block": {"type": "logic_compare", "id": "cmp", "fields": {"OP": "LT"},
                                    "inputs": {"A": {"shadow": {"type": "dojo_distance", "id": "dist"}}, "B": number(5)}}},
              }})}}}
    refusal = check_blockly_program(1, program(hidden))
    assert refusal is not None and refusal.rule == "program_block_locked"
    assert "distance" in refusal.kid_text and "(block dist)" in refusal.detail


def test_program_check_skips_a_block_the_kid_disabled_but_checks_the_blocks_under_it():
    off = dict(SKILL_SLALOM, disabledReasons=["MANUALLY_DISABLED"])
    assert check_blockly_program(1, program(stack(FORWARD, off, TURN))) is None  # Blockly never runs it
    refusal = check_blockly_program(1, program(stack(off, GO_TO)))
    assert refusal is not None and refusal.rule == "program_block_locked" and "go to" in refusal.kid_text


def test_program_check_ignores_scratch_projects_and_python_text():
    assert check_blockly_program(1, {"targets": []}) is None
    assert check_blockly_program(1, "import dojo\n") is None


def test_program_check_refuses_an_unreadable_or_huge_file_with_a_reason():
    broken = check_blockly_program(1, {"blocks": {"blocks": "not a list"}})
    assert broken is not None and broken.rule == "program_unreadable"
    huge = program(*[{"type": "dojo_stop", "id": f"s{i}"} for i in range(MAX_PROGRAM_BLOCKS + 1)])
    too_big = check_blockly_program(4, huge)
    assert too_big is not None and too_big.rule == "program_too_big"


def test_program_check_survives_a_very_deep_stack_without_recursion():
    deep = {"type": "dojo_stop", "id": "s0"}
    node = deep
    for i in range(1, 1500):
        node["next"] = {"block": {"type": "dojo_stop", "id": f"s{i}"}}
        node = node["next"]["block"]
    node["next"] = {"block": dict(SKILL_SLALOM)}
    refusal = check_blockly_program(1, program(deep))
    assert refusal is not None and refusal.rule == "program_block_locked"


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
        reply = await sio.call("run_start", {"source": "blockly", "program": program(stack(FORWARD, SKILL_DRIFT))},
                               namespace="/kid", timeout=ACK_TIMEOUT_S)
        assert reply["status"] == "refused"
        assert reply["kid_text"] == "The 'do skill' block unlocks at level 3."
        assert "(block sk2)" in reply["detail"]
        ok = await sio.call("run_start", {"source": "blockly", "program": program(repeat(4, FORWARD, TURN))},
                            namespace="/kid", timeout=ACK_TIMEOUT_S)
        assert ok["status"] == "ok" and ok["run_id"]
        assert sio.connected  # a refusal never costs the connection
    finally:
        await sio.disconnect()


async def test_a_saved_program_comes_back_for_the_same_kid_and_after_a_server_restart(tmp_path):
    config = ServerConfig(port=0, data_dir=tmp_path / "data", default_class_code=CLASS, teacher_password="test-pw-1234")
    saved = program(repeat(4, FORWARD, TURN))
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
        async with http.put(url, headers={"Authorization": f"Bearer {token_a}"}, json={"program": program(stack(FORWARD))}) as resp:
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
