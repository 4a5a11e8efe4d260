"""A kid token whose issue time is in the future, NaN or infinite is refused (issue 17, finding 5): such a
token would never expire. Signed with the server's own key (as a leaked key or a bug would make them),
tried on the real HTTP API and the real /kid socket. Before the fix all were accepted."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math

import pytest
import socketio

from core_harness import classroom_server, wait_for
from server.core.auth import CLOCK_SKEW_S, AuthError, KidTokens


def signed(key: bytes, kid_id: str, t: object) -> str:
    """A token as the server's own KidTokens.issue would write it, with any time (JSON NaN/Infinity too)."""
    payload = base64.urlsafe_b64encode(json.dumps({"k": kid_id, "c": "TEST", "t": t}).encode()).decode().rstrip("=")
    mac = hmac.new(key, b"kid-token:" + payload.encode(), hashlib.sha256).digest()
    return f"{payload}.{base64.urlsafe_b64encode(mac).decode().rstrip('=')}"


def test_future_nan_and_infinite_issue_times_are_refused_and_a_small_clock_step_is_not():
    now = [1_000_000.0]
    tokens = KidTokens(b"k" * 32, max_age_s=60, clock=lambda: now[0])
    for t in (now[0] + 3600, now[0] + CLOCK_SKEW_S + 1, math.nan, math.inf, -math.inf, 1e308 * 10):
        with pytest.raises(AuthError, match="impossible issue time"):
            tokens.verify(signed(b"k" * 32, "kid1", t))
    assert tokens.verify(signed(b"k" * 32, "kid1", now[0] + 5)).kid_id == "kid1"  # NTP stepped the clock back


async def test_the_server_refuses_never_expiring_tokens_on_http_and_on_the_kid_socket(tmp_path):
    async with classroom_server(tmp_path) as srv:
        kid = await srv.join("Mia")
        key = srv.config.resolved_secret_key()
        for t in ("NaN", "Infinity", 4_102_444_800):  # 2100-01-01
            raw = signed(key, kid["kid_id"], {"NaN": math.nan, "Infinity": math.inf}.get(t, t))
            async with srv.http.get(f"{srv.url}/api/cars", headers={"Authorization": f"Bearer {raw}"}) as resp:
                body = await resp.json()
                assert resp.status == 401 and body["error"]["rule"] == "kid_token_time", (t, body)
            sio = socketio.AsyncClient(reconnection=False)
            reasons: list = []
            sio.on("connect_error", reasons.append, namespace="/kid")
            with pytest.raises(socketio.exceptions.ConnectionError):
                await sio.connect(srv.url, namespaces=["/kid"], auth={"token": raw}, transports=["websocket"],
                                  wait_timeout=3)
            await wait_for(lambda: reasons, "the refusal reason")
            assert reasons[0]["data"]["rule"] == "kid_token_time"
            await sio.disconnect()
        async with srv.http.get(f"{srv.url}/api/cars", headers={"Authorization": f"Bearer {kid['token']}"}) as resp:
            assert resp.status == 200  # the real token still works
