"""Every teacher API call is refused without a teacher session, with a kid's token (as Bearer and as a
cookie) and, for state-changing methods, without the CSRF header; the /teacher socket refuses kids too.

The routes are enumerated from the running app, so an endpoint added later is covered automatically.
Refused calls must also change nothing: no level changes, no emergency stop, no new class.
"""

from __future__ import annotations

import re
from typing import AsyncIterator

import aiohttp
import pytest
import socketio

from server.core.auth import CSRF_HEADER, SESSION_COOKIE
from server.core.config import ServerConfig
from server.runner import ServerHandle, start_server
from server.web.state import CLASSROOM, STORAGE

CLASS = "SECU"
PASSWORD = "teacher-pass-123"
HTTP_TIMEOUT = aiohttp.ClientTimeout(total=10)  # loopback answers in milliseconds
CONNECT_TIMEOUT_S = 5.0
STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
PUBLIC = {("POST", "/api/teacher/login"),  # the way in: it checks the password itself
          ("GET", "/api/teacher/login-mode")}  # which login form to draw: {accounts: bool}, nothing else
MIN_TEACHER_ROUTES = 15  # the core API alone has more; fewer means the enumeration is broken


@pytest.fixture
async def server(tmp_path) -> AsyncIterator[tuple[ServerHandle, dict]]:
    config = ServerConfig(port=0, data_dir=tmp_path, teacher_password=PASSWORD, default_class_code=CLASS)
    handle = await start_server(config)
    classroom = handle.app[CLASSROOM]
    handle.app[STORAGE].upsert_car("car-1", "sim")  # a known car, so {car_id} routes get past their lookups
    kid, token, _ = classroom.join(CLASS, "Mia")
    estops: list[tuple] = []
    classroom.events.subscribe("estop", lambda *args: estops.append(args))
    try:
        yield handle, {"kid": kid, "token": token, "estops": estops}
    finally:
        await handle.close()


def teacher_routes(handle: ServerHandle, kid_id: str) -> list[tuple[str, str]]:
    """(method, concrete path) for every route under /api/teacher/, with real ids filled in."""
    values = {"code": CLASS, "kid_id": kid_id, "car_id": "car-1"}
    seen, out = set(), []
    for route in handle.app.router.routes():
        canonical = route.resource.canonical if route.resource else ""
        if not canonical.startswith("/api/teacher/") or route.method == "HEAD":
            continue
        path = re.sub(r"\{(\w+)(?::[^}]*)?\}", lambda m: values.get(m.group(1), "x1"), canonical)
        methods = ["GET", "POST"] if route.method == "*" else [route.method]
        for method in methods:
            if (method, canonical) not in seen and (method, canonical) not in PUBLIC:
                seen.add((method, canonical))
                out.append((method, path))
    return out


async def login(http: aiohttp.ClientSession, base: str) -> str:
    async with http.post(f"{base}/api/teacher/login", json={"password": PASSWORD}) as resp:
        assert resp.status == 200, await resp.text()
        return (await resp.json())["csrf_token"]


def body_for(method: str) -> dict | None:
    # a plausible body, so a refusal cannot be a mere "bad JSON" answer
    return {"level": 4, "kid_ids": [], "name": "Hacked", "stars": 3, "comment": "x"} if method in STATE_CHANGING else None


async def test_teacher_routes_are_enumerated(server):
    handle, ctx = server
    routes = teacher_routes(handle, ctx["kid"].kid_id)
    paths = {p for _, p in routes}
    assert len(routes) >= MIN_TEACHER_ROUTES, routes
    assert f"/api/teacher/classes/{CLASS}/progress.csv" in paths and "/api/teacher/estop" in paths


async def test_every_teacher_call_is_refused_without_a_session(server):
    handle, ctx = server
    async with aiohttp.ClientSession(timeout=HTTP_TIMEOUT) as http:
        for method, path in teacher_routes(handle, ctx["kid"].kid_id):
            async with http.request(method, handle.base_url + path, json=body_for(method)) as resp:
                assert resp.status == 401, f"{method} {path} without a session answered {resp.status}"
                assert (await resp.json())["error"]["rule"] == "teacher_login", f"{method} {path}"
    assert_nothing_changed(handle, ctx)


async def test_every_teacher_call_is_refused_with_a_kid_token_as_bearer(server):
    handle, ctx = server
    headers = {"Authorization": f"Bearer {ctx['token']}"}
    async with aiohttp.ClientSession(timeout=HTTP_TIMEOUT) as http:
        for method, path in teacher_routes(handle, ctx["kid"].kid_id):
            async with http.request(method, handle.base_url + path, json=body_for(method),
                                    headers={**headers, "X-CSRF-Token": ctx["token"]}) as resp:
                assert resp.status == 401, f"{method} {path} with a kid's Bearer token answered {resp.status}"
    assert_nothing_changed(handle, ctx)


@pytest.mark.parametrize("cookie_name", [SESSION_COOKIE, "token", "dojo_kid"])
async def test_every_teacher_call_is_refused_with_a_kid_token_as_cookie(server, cookie_name):
    handle, ctx = server
    jar = aiohttp.CookieJar(unsafe=True)  # unsafe: cookies for an IP address host (127.0.0.1)
    async with aiohttp.ClientSession(timeout=HTTP_TIMEOUT, cookie_jar=jar) as http:
        http.cookie_jar.update_cookies({cookie_name: ctx["token"]})
        for method, path in teacher_routes(handle, ctx["kid"].kid_id):
            async with http.request(method, handle.base_url + path, json=body_for(method),
                                    headers={"X-CSRF-Token": ctx["token"]}) as resp:
                assert resp.status == 401, f"{method} {path} with a kid token in cookie {cookie_name} answered {resp.status}"
    assert_nothing_changed(handle, ctx)


async def test_every_state_changing_teacher_call_needs_the_csrf_header(server):
    handle, ctx = server
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(timeout=HTTP_TIMEOUT, cookie_jar=jar) as http:
        csrf = await login(http, handle.base_url)
        changing = [(m, p) for m, p in teacher_routes(handle, ctx["kid"].kid_id) if m in STATE_CHANGING]
        assert changing, "no state-changing teacher routes found"
        for method, path in changing:
            for headers in ({}, {CSRF_HEADER: "not-the-token"}, {CSRF_HEADER: ctx["token"]}):
                async with http.request(method, handle.base_url + path, json=body_for(method), headers=headers) as resp:
                    assert resp.status == 403, f"{method} {path} with CSRF header {headers} answered {resp.status}"
                    assert (await resp.json())["error"]["rule"] == "csrf"
        assert_nothing_changed(handle, ctx)
        # control: the same session with the right header does get through (the refusals above were the CSRF rule)
        async with http.post(f"{handle.base_url}/api/teacher/classes/{CLASS}/kids/{ctx['kid'].kid_id}/level",
                             json={"level": 2}, headers={CSRF_HEADER: csrf}) as resp:
            assert resp.status == 200, await resp.text()
        assert handle.app[CLASSROOM].kid(ctx["kid"].kid_id).level == 2


async def test_teacher_reads_work_with_a_session(server):
    """The refusals above are about who asks: a logged-in teacher gets every GET answered."""
    handle, ctx = server
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(timeout=HTTP_TIMEOUT, cookie_jar=jar) as http:
        await login(http, handle.base_url)
        for method, path in teacher_routes(handle, ctx["kid"].kid_id):
            if method != "GET":
                continue
            async with http.get(handle.base_url + path) as resp:
                assert resp.status not in (401, 403), f"GET {path} refused a logged-in teacher: {resp.status}"


@pytest.mark.parametrize("how", ["none", "auth", "cookie"])
async def test_teacher_socket_refuses_without_a_teacher_session(server, how):
    handle, ctx = server
    client = socketio.AsyncClient(reconnection=False)
    kwargs: dict = {"namespaces": ["/teacher"], "transports": ["websocket"], "wait_timeout": CONNECT_TIMEOUT_S}
    if how == "auth":
        kwargs["auth"] = {"token": ctx["token"]}
    elif how == "cookie":
        kwargs["headers"] = {"Cookie": f"{SESSION_COOKIE}={ctx['token']}"}
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(handle.base_url, **kwargs)
    await client.disconnect()


def assert_nothing_changed(handle: ServerHandle, ctx: dict) -> None:
    classroom = handle.app[CLASSROOM]
    assert classroom.kid(ctx["kid"].kid_id).level == 1, "a refused call changed a kid's level"
    assert ctx["estops"] == [], "a refused call triggered an emergency stop"
    assert [c.code for c in handle.app[STORAGE].list_classes()] == [CLASS], "a refused call created a class"
