"""JSON nested 5,000 levels deep is refused by name everywhere it can arrive (issue 17, finding 3).

Every route that reads a JSON body answers 400 `json_depth` (never a 500 with a traceback), a /kid
socket event gets an error answer through its ack, and the Scratch-Link endpoint answers a JSON-RPC
error that does not leak the exception's text. The connection stays up and the server keeps serving.
"""

from __future__ import annotations

import json

import aiohttp

from core_harness import CALL_TIMEOUT_S, classroom_server
from server.scratch.protocol import PARSE_ERROR

DEPTH = 5000
DEEP = "[" * DEPTH + "]" * DEPTH  # far deeper than Python's parser goes (about 1,000 levels)
DEEP_OBJECT = '{"a":' * DEPTH + "1" + "}" * DEPTH

# Every route whose handler reads its body with server.web.http.read_json, with its path filled in.
READ_JSON_ROUTES = [
    "/api/join", "/api/teacher/login", "/api/teacher/classes", "/api/teacher/classes/TEST/kids/KID/level",
    "/api/teacher/classes/TEST/level", "/api/teacher/cars/car-1/assign", "/api/teacher/estop",
    "/api/teacher/pairing-codes", "/api/cars/pair", "/api/lessons/select", "/api/teacher/attempts/a1/override",
    "/api/plan", "/api/teacher/classes/TEST/plans/switch",
]


async def test_every_read_json_route_answers_400_json_depth_for_5000_deep_json(tmp_path):
    async with classroom_server(tmp_path, cars=["car-1"]) as srv:
        kid = await srv.join("Mia")
        teacher = await srv.teacher()
        try:
            for path in READ_JSON_ROUTES:
                path = path.replace("KID", kid["kid_id"])
                for body in (DEEP, DEEP_OBJECT):
                    headers = {"Content-Type": "application/json", "X-CSRF-Token": teacher.csrf,
                               "Authorization": f"Bearer {kid['token']}"}
                    async with teacher.http.post(srv.url + path, data=body.encode(), headers=headers) as resp:
                        text = await resp.text()
                        assert resp.status == 400, (path, resp.status, text[:300])
                        error = json.loads(text)["error"]
                        assert error["rule"] == "json_depth" and "nested too deeply" in error["message"], (path, error)
                        assert error["fix"] and "Traceback" not in text and "Recursion" not in text
            async with srv.http.get(srv.url + "/api/health") as resp:
                assert resp.status == 200
        finally:
            await teacher.http.close()


async def test_a_kid_socket_event_with_5000_deep_json_gets_an_error_answer_and_stays_up(tmp_path):
    async with classroom_server(tmp_path, cars=["car-1"]) as srv:
        kid = await srv.join("Mia")
        sio = await srv.kid_socket(kid["token"])
        deep = json.loads("[" * 300 + "]" * 300)  # as deep as python-socketio's client encodes: answered too
        for event in ("block", "run_start", "run_end"):
            reply = await sio.call(event, {"block": "move_forward", "args": {"distance": deep}}, namespace="/kid",
                                   timeout=CALL_TIMEOUT_S)
            assert reply["status"] in ("error", "refused"), (event, reply)
        async with aiohttp.ClientSession() as http:  # a hand-made frame 5,000 deep: the decoder gives up
            ws = await http.ws_connect(srv.url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket")
            assert (await ws.receive_str()).startswith("0")
            await ws.send_str('40/kid,{"token":"%s"}' % kid["token"])
            assert (await ws.receive_str()).startswith("40/kid")
            await ws.send_str('42/kid,7["block",{"block":"move_forward","args":{"distance":' + DEEP + '}}]')
            while True:
                frame = await ws.receive_str(timeout=5)
                if frame.startswith("43/kid,7"):
                    break
            error = json.loads(frame[len("43/kid,7"):])[0]
            assert error["status"] == "error" and error["error"]["rule"] == "packet.json_depth", error
            assert "nested too deeply" in error["error"]["message"] and "Recursion" not in frame
            await ws.send_str('42/kid,8["run_end",{"run_id":"r1"}]')  # the same socket still gets answers
            while not (frame := await ws.receive_str(timeout=5)).startswith("43/kid,8"):
                pass
            assert json.loads(frame[len("43/kid,8"):])[0]["error"]["rule"] == "run_id"
            await ws.close()
        assert (await srv.block(sio, "move_forward", {"distance": 5}))["status"] == "done"  # still driving


async def test_scratch_link_answers_deep_json_with_a_json_rpc_error_without_the_exception_text(tmp_path):
    async with classroom_server(tmp_path, cars=["car-1"]) as srv:
        kid = await srv.join("Mia")
        async with aiohttp.ClientSession() as http:
            async with http.ws_connect(f"{srv.url.replace('http', 'ws')}/scratch/ble?token={kid['token']}") as ws:
                for frame, code in ((DEEP, PARSE_ERROR), (DEEP_OBJECT, PARSE_ERROR),
                                    ('{"jsonrpc":"2.0","id":3,"method":"getVersion","params":{"x":' + DEEP + "}}",
                                     PARSE_ERROR)):
                    await ws.send_str(frame)
                    reply = json.loads((await ws.receive(timeout=5)).data)
                    assert reply["error"]["code"] == code, reply
                    text = json.dumps(reply)
                    assert "nested too deeply" in text and "Recursion" not in text and "maximum" not in text, reply
                await ws.send_str(json.dumps({"jsonrpc": "2.0", "id": 4, "method": "getVersion"}))
                reply = json.loads((await ws.receive(timeout=5)).data)
                assert reply["id"] == 4 and "result" in reply  # the socket stays up
