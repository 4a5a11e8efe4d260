"""An unauthenticated /scratch/ble socket is closed after timeouts.scratch_auth_s; one with a valid token
stays (issue 17, finding 5). Real server, real WebSocket clients. Before the fix such sockets stayed open
for ever (the audit held hundreds)."""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp

from core_harness import classroom_server
from server.core.config import Timeouts

AUTH_S = 0.5  # short for the test; the default is 10 s
CLOSE_WAIT_S = 10.0  # far more than AUTH_S: a busy machine


async def receive_until_closed(ws: aiohttp.ClientWebSocketResponse, timeout_s: float) -> aiohttp.WSMessage:
    deadline = time.monotonic() + timeout_s
    while True:
        msg = await asyncio.wait_for(ws.receive(), max(0.01, deadline - time.monotonic()))
        if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING):
            return msg


async def test_sockets_without_a_valid_token_are_closed_and_a_kids_socket_stays(tmp_path):
    async with classroom_server(tmp_path, timeouts=Timeouts(scratch_auth_s=AUTH_S)) as srv:
        kid = await srv.join("Mia")
        async with aiohttp.ClientSession() as http:
            silent = await http.ws_connect(f"{srv.url.replace('http', 'ws')}/scratch/ble")
            chatty = await http.ws_connect(f"{srv.url.replace('http', 'ws')}/scratch/ble")
            forged = await http.ws_connect(f"{srv.url.replace('http', 'ws')}/scratch/ble?token=not.a-token")
            good = await http.ws_connect(f"{srv.url.replace('http', 'ws')}/scratch/ble?token={kid['token']}")
            late = await http.ws_connect(f"{srv.url.replace('http', 'ws')}/scratch/ble")
            await late.send_str(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "authenticate",
                                            "params": {"token": kid["token"]}}))
            assert json.loads((await late.receive(timeout=5)).data)["result"]["kid"] == "Mia"
            # A failed authenticate on a signed-in socket is refused and signs nobody out (the fuzz found the
            # deadline then closing a kid's own socket).
            await good.send_str(json.dumps({"jsonrpc": "2.0", "id": 7, "method": "authenticate",
                                            "params": {"token": "nope"}}))
            refused = json.loads((await good.receive(timeout=5)).data)
            assert refused["id"] == 7 and "still Mia's" in refused["error"]["data"]
            opened = time.monotonic()
            await chatty.send_str(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "getVersion"}))  # no token
            for ws in (silent, chatty, forged):
                msg = await receive_until_closed(ws, CLOSE_WAIT_S)
                assert msg.type is aiohttp.WSMsgType.CLOSE and msg.data == aiohttp.WSCloseCode.POLICY_VIOLATION
                assert "join the class again" in msg.extra
            assert time.monotonic() - opened < CLOSE_WAIT_S
            await asyncio.sleep(AUTH_S * 3)
            for ws in (good, late):  # authenticated sockets are never closed by the deadline
                assert not ws.closed
                await ws.send_str(json.dumps({"jsonrpc": "2.0", "id": 2, "method": "getVersion"}))
                assert json.loads((await ws.receive(timeout=5)).data)["result"] == {"protocol": "1.2"}
                await ws.close()
