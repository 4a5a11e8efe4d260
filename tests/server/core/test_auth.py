"""Who may do what: teacher password + session + CSRF, signed kid tokens, car pairing tokens."""

from __future__ import annotations

import base64
import json

import aiohttp
import pytest
import socketio

from core_harness import PASSWORD, RawCar, classroom_server, wait_for
from server.core.auth import AuthError, KidTokens, car_token_ok, hash_password, verify_password

TEACHER_POSTS = [
    "/api/teacher/classes", "/api/teacher/classes/TEST/level", "/api/teacher/estop",
    "/api/teacher/cars/car-1/assign", "/api/teacher/cars/car-1/stop", "/api/teacher/cars/car-1/reset",
    "/api/teacher/logout",
]
TEACHER_GETS = ["/api/teacher/me", "/api/teacher/classes", "/api/teacher/classes/TEST/roster", "/api/teacher/cars",
                "/api/teacher/requests"]


def test_password_hash_is_salted_scrypt_and_verifies():
    a, b = hash_password("secret-1"), hash_password("secret-1")
    assert a != b and a.startswith("scrypt$")
    assert verify_password("secret-1", a) and not verify_password("secret-2", a)
    assert not verify_password("secret-1", "garbage") and not verify_password("x", "scrypt$1$2$3$zz$yy")


def test_kid_tokens_reject_tampering_other_keys_and_age():
    now = [1000.0]
    tokens = KidTokens(b"k" * 32, max_age_s=60, clock=lambda: now[0])
    token = tokens.issue("kid1", "TEST")
    assert tokens.verify(token).kid_id == "kid1"
    payload, sig = token.split(".")
    forged = base64.urlsafe_b64encode(json.dumps({"k": "kid2", "c": "TEST", "t": 1000}).encode()).decode().rstrip("=")
    for bad in (f"{forged}.{sig}", token + "x", "", "a.b.c", None, 42, "x" * 600):
        with pytest.raises(AuthError):
            tokens.verify(bad)
    with pytest.raises(AuthError, match="signature"):
        KidTokens(b"other-key" * 4, 60, clock=lambda: now[0]).verify(token)
    now[0] += 61
    with pytest.raises(AuthError, match="expired"):
        tokens.verify(token)


def test_car_tokens_per_car_or_shared_secret():
    assert car_token_ok("car-1", "tok-1234", {"car-1": "tok-1234"}, None)
    assert not car_token_ok("car-2", "tok-1234", {"car-1": "tok-1234"}, None)
    assert car_token_ok("car-7", "shared-secret", {}, "shared-secret")
    assert not car_token_ok("car-7", "wrong", {}, "shared-secret")


async def test_teacher_endpoints_refuse_no_session_and_kid_tokens(tmp_path):
    async with classroom_server(tmp_path, cars=[]) as srv:
        kid = await srv.join("Mia")
        bearer = {"Authorization": f"Bearer {kid['token']}"}
        async with aiohttp.ClientSession() as http:
            for path in TEACHER_POSTS:
                for headers in ({}, bearer, {**bearer, "X-CSRF-Token": "whatever"}):
                    async with http.post(srv.url + path, json={"level": 4, "name": "x", "kid_ids": []},
                                         headers=headers) as resp:
                        body = await resp.json()
                        assert resp.status == 401, (path, headers, body)
                        assert body["error"]["rule"] == "teacher_login" and body["error"]["fix"]
            for path in TEACHER_GETS:
                async with http.get(srv.url + path, headers=bearer) as resp:
                    assert resp.status == 401, path
        assert srv.classroom.kid(kid["kid_id"]).level == 1  # nothing changed
        assert srv.classroom.storage.list_classes()[0].code == "TEST" and len(srv.classroom.storage.list_classes()) == 1


async def test_state_changes_without_csrf_header_are_refused(tmp_path):
    async with classroom_server(tmp_path, cars=[]) as srv:
        kid = await srv.join("Mia")
        teacher = await srv.teacher()
        try:
            path = f"/api/teacher/classes/TEST/kids/{kid['kid_id']}/level"
            status, body = await teacher.post(path, {"level": 3}, csrf=False)
            assert status == 403 and body["error"]["rule"] == "csrf"
            async with teacher.http.post(srv.url + path, json={"level": 3}, headers={"X-CSRF-Token": "forged"}) as r:
                assert r.status == 403
            assert srv.classroom.kid(kid["kid_id"]).level == 1
            status, body = await teacher.post(path, {"level": 3})
            assert status == 200 and srv.classroom.kid(kid["kid_id"]).level == 3
            status, body = await teacher.get("/api/teacher/me")
            assert status == 200 and body["csrf_token"] == teacher.csrf
            status, _ = await teacher.post("/api/teacher/logout")
            assert status == 200
            assert (await teacher.get("/api/teacher/me"))[0] == 401
        finally:
            await teacher.http.close()


async def test_login_cookie_is_httponly_samesite_strict_and_wrong_password_is_refused(tmp_path):
    async with classroom_server(tmp_path, cars=[]) as srv:
        async with aiohttp.ClientSession() as http:
            async with http.post(srv.url + "/api/teacher/login", json={"password": "nope"}) as resp:
                assert resp.status == 401 and (await resp.json())["error"]["rule"] == "teacher_password"
            async with http.post(srv.url + "/api/teacher/login", json={"password": PASSWORD}) as resp:
                assert resp.status == 200
                cookie = resp.headers["Set-Cookie"]
                assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie


async def test_login_attempts_are_rate_limited(tmp_path):
    from server.core.config import RateLimits
    async with classroom_server(tmp_path, cars=[], rate_limits=RateLimits(teacher_logins_per_min=3)) as srv:
        async with aiohttp.ClientSession() as http:
            statuses = []
            for _ in range(5):
                async with http.post(srv.url + "/api/teacher/login", json={"password": "guess"}) as resp:
                    statuses.append(resp.status)
            assert statuses == [401, 401, 401, 429, 429]


async def test_forged_or_missing_kid_tokens_cannot_open_the_kid_socket(tmp_path):
    async with classroom_server(tmp_path, cars=[]) as srv:
        kid = await srv.join("Mia")
        other_server_token = KidTokens(b"z" * 32, 3600).issue(kid["kid_id"], "TEST")
        for auth in ({"token": other_server_token}, {"token": kid["token"][:-2] + "AA"}, {}, {"token": 5}):
            sio = socketio.AsyncClient(reconnection=False)
            reasons = []
            sio.on("connect_error", lambda data: reasons.append(data), namespace="/kid")
            with pytest.raises(socketio.exceptions.ConnectionError):
                await sio.connect(srv.url, namespaces=["/kid"], auth=auth, transports=["websocket"], wait_timeout=3)
            await wait_for(lambda: reasons, "the refusal reason")
            assert reasons[0]["data"]["rule"].startswith("kid_token") and reasons[0]["data"]["fix"], (auth, reasons)
            assert "join the class again" in reasons[0]["message"]
            await sio.disconnect()
        async with srv.http.get(f"{srv.url}/api/cars", headers={"Authorization": f"Bearer {other_server_token}"}) as r:
            assert r.status == 401 and (await r.json())["error"]["rule"] == "kid_token_signature"


async def test_kid_token_cannot_open_the_teacher_socket(tmp_path):
    async with classroom_server(tmp_path, cars=[]) as srv:
        kid = await srv.join("Mia")
        sio = socketio.AsyncClient(reconnection=False)
        reasons = []
        sio.on("connect_error", lambda data: reasons.append(data), namespace="/teacher")
        with pytest.raises(socketio.exceptions.ConnectionError):
            await sio.connect(srv.url, namespaces=["/teacher"], auth={"token": kid["token"]},
                              headers={"Authorization": f"Bearer {kid['token']}"}, transports=["websocket"],
                              wait_timeout=3)
        await wait_for(lambda: reasons, "the refusal reason")
        assert reasons[0]["data"]["rule"] == "teacher_login"
        await sio.disconnect()


async def test_cars_with_a_wrong_token_or_protocol_are_refused_with_a_reason(tmp_path):
    async with classroom_server(tmp_path, cars=[], extra_cars=["car-1"]) as srv:
        for kwargs, hello, rule in ((dict(token="wrong-token-123"), {}, "car_token"),
                                    ({}, {"protocol": 99}, "protocol_version"),
                                    ({}, {"bogus": 1}, "car_hello")):
            car = RawCar(srv.url, "car-1", **kwargs)
            with pytest.raises(socketio.exceptions.ConnectionError):
                await car.connect(**hello)
            await wait_for(lambda: car.refusal, "the refusal reason")
            assert car.refusal["data"]["rule"].startswith(rule), car.refusal
            assert car.refusal["data"]["fix"] and car.refusal["message"]
            await car.close()
        assert not srv.classroom.dispatcher.is_connected("car-1")
        good = RawCar(srv.url, "car-1")
        await good.connect()
        await wait_for(lambda: srv.classroom.dispatcher.is_connected("car-1"), "car-1 connected with its token")
        await good.close()


async def test_socket_io_accepts_own_and_configured_origins_only(tmp_path):
    async with classroom_server(tmp_path, allowed_origins=["https://turbowarp.org"]) as srv:
        kid = await srv.join("Mia")
        host = srv.url.split("//")[1]
        for origin, ok in ((srv.url, True), ("https://turbowarp.org", True), ("https://evil.example", False),
                           (f"http://evil.example:{host.split(':')[1]}", False)):
            sio = socketio.AsyncClient(reconnection=False)
            try:
                await sio.connect(srv.url, namespaces=["/kid"], auth={"token": kid["token"]},
                                  headers={"Origin": origin}, transports=["websocket"], wait_timeout=3)
                assert ok, origin
            except socketio.exceptions.ConnectionError:
                assert not ok, origin
            finally:
                await sio.disconnect()
