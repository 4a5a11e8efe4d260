"""The public JSON API and static files, through a real server on 127.0.0.1."""

from __future__ import annotations

import aiohttp
import pytest

from core_harness import classroom_server
from server.web.state import LESSONS


async def get(srv, path, **kw):
    async with srv.http.get(srv.url + path, **kw) as resp:
        return resp.status, (await resp.json() if resp.content_type == "application/json" else await resp.text())


async def post(srv, path, data=None, raw: bytes | None = None):
    kwargs = {"data": raw, "headers": {"Content-Type": "application/json"}} if raw is not None else {"json": data}
    async with srv.http.post(srv.url + path, **kwargs) as resp:
        return resp.status, await resp.json()


async def test_health_reports_version_uptime_and_connected_cars(tmp_path):
    async with classroom_server(tmp_path, cars=["car-1"]) as srv:
        status, body = await get(srv, "/api/health")
        assert status == 200 and body["ok"] and body["version"]
        assert body["cars_connected"] == 1 and body["cars"] == ["car-1"] and body["uptime_s"] >= 0


async def test_catalog_per_level_shows_locked_blocks_as_teasers_and_caps_speed(tmp_path):
    async with classroom_server(tmp_path) as srv:
        _, l1 = await get(srv, "/api/catalog?level=1")
        blocks = {b["id"]: b for b in l1["blocks"]}
        assert l1["max_speed_pct"] == 30
        assert not blocks["move_forward"]["locked"] and blocks["move_forward"]["scratch_opcode"] == "moveForward"
        assert blocks["move_forward"]["blockly_type"] == "dojo_move_forward" and blocks["move_forward"]["python"]
        assert blocks["go_to"]["locked"] and blocks["go_to"]["teaser"] == "unlocks at level 3"
        assert blocks["set_speed"]["params"][0]["max"] == 30
        assert {s["name"]: s["locked"] for s in l1["skills"]}["slalom"] is True
        _, l3 = await get(srv, "/api/catalog?level=3")
        skills = {b["id"]: b for b in l3["blocks"]}["do_skill"]["params"][0]["options"]
        assert skills == ["figure_eight", "slalom"]
        _, l4 = await get(srv, "/api/catalog?level=4")
        assert not any(b["locked"] for b in l4["blocks"]) and l4["max_speed_pct"] == 100


@pytest.mark.parametrize("level", ["0", "5", "two", "-1"])
async def test_catalog_refuses_levels_outside_1_to_4(tmp_path, level):
    async with classroom_server(tmp_path) as srv:
        status, body = await get(srv, f"/api/catalog?level={level}")
        assert status == 400 and body["error"]["rule"] == "level_range" and "1 to 4" in body["error"]["message"]


async def test_catalog_without_level_uses_the_kids_level(tmp_path):
    async with classroom_server(tmp_path) as srv:
        kid = await srv.join("Mia")
        srv.classroom.set_level(kid["kid_id"], 2)
        _, body = await get(srv, "/api/catalog", headers={"Authorization": f"Bearer {kid['token']}"})
        assert body["level"] == 2


async def test_join_gives_a_token_and_a_name_the_class_has_asks_is_that_you_before_rejoining(tmp_path):
    async with classroom_server(tmp_path, cars=["car-1"]) as srv:
        first = await srv.join("Mia")
        assert first["car_id"] == "car-1" and first["level"] == 1 and first["class_code"] == "TEST"
        srv.classroom.set_level(first["kid_id"], 3)
        status, asked = await post(srv, "/api/join", {"class_code": "test", "name": "mia"})
        assert status == 409 and asked["error"]["rule"] == "same_name" and asked["error"]["value"] == "Mia"
        assert "already a Mia" in asked["error"]["message"] and "rejoin" in asked["error"]["fix"]
        status, again = await post(srv, "/api/join", {"class_code": "test", "name": "mia", "rejoin": True})
        assert status == 200, again
        assert again["kid_id"] == first["kid_id"] and again["level"] == 3 and again["car_id"] == "car-1"
        assert again["name"] == "Mia"
        assert len(srv.classroom.kids_in_class("TEST")) == 1


@pytest.mark.parametrize("body,rule,status", [
    ({"class_code": "TEST", "name": "Mia.Rose"}, "kid_name", 400),
    ({"class_code": "TEST", "name": "R2D2"}, "kid_name", 400),
    ({"class_code": "TEST", "name": "A" * 21}, "kid_name", 400),
    ({"class_code": "TEST", "name": "<script>"}, "kid_name", 400),
    ({"class_code": "NOPE1", "name": "Mia"}, "class_code", 404),
    ({"class_code": "TEST"}, "JoinBody.name:missing", 400),
    ({"class_code": "TEST", "name": "Mia", "age": 9}, "JoinBody.age:extra_forbidden", 400),
    ({"class_code": "TEST", "name": 5}, "JoinBody.name:string_type", 400),
])
async def test_join_refuses_bad_input_naming_rule_value_and_fix(tmp_path, body, rule, status):
    async with classroom_server(tmp_path) as srv:
        got, reply = await post(srv, "/api/join", body)
        assert got == status and reply["error"]["rule"] == rule and reply["error"]["fix"], reply
        assert srv.classroom.kids_in_class("TEST") == []


async def test_unicode_first_names_are_fine(tmp_path):
    async with classroom_server(tmp_path) as srv:
        assert (await srv.join("Zoë"))["name"] == "Zoë"
        assert (await srv.join("Łukasz"))["name"] == "Łukasz"


async def test_malformed_json_and_oversized_bodies_get_clear_errors(tmp_path):
    async with classroom_server(tmp_path) as srv:
        status, body = await post(srv, "/api/join", raw=b'{"class_code": "TEST", "name": ')
        assert status == 400 and body["error"]["rule"] == "malformed_json" and body["error"]["fix"]
        status, body = await post(srv, "/api/join", raw=b"[1, 2")
        assert status == 400 and body["error"]["rule"] == "malformed_json"
        async with srv.http.post(srv.url + "/api/join", data=b"x" * (2 * 1024 * 1024),
                                 headers={"Content-Type": "application/json"}) as resp:
            assert resp.status == 413
        assert (await get(srv, "/api/health"))[0] == 200  # the server is fine


async def test_kid_cars_needs_a_kid_token(tmp_path):
    async with classroom_server(tmp_path, cars=["car-1"]) as srv:
        status, body = await get(srv, "/api/cars")
        assert status == 401 and body["error"]["rule"] == "kid_token_missing"
        kid = await srv.join("Mia")
        status, body = await get(srv, "/api/cars", headers={"Authorization": f"Bearer {kid['token']}"})
        assert status == 200 and body["cars"] == [
            {"car_id": "car-1", "kind": "sim", "connected": True, "kid_ids": [kid["kid_id"]], "estopped": False,
             "shared": False}]


async def test_lessons_are_the_lesson_books_list_for_that_kid(tmp_path):
    async with classroom_server(tmp_path) as srv:
        book = srv.handle.app[LESSONS]
        status, body = await get(srv, "/api/lessons")
        assert status == 200 and body["lessons"] == book.lessons(None) and body["lessons"]
        kid = await srv.join("Mia")
        status, body = await get(srv, "/api/lessons", headers={"Authorization": f"Bearer {kid['token']}"})
        assert body["lessons"] == book.lessons(srv.classroom.kid(kid["kid_id"]))
        assert {"locked", "locked_reason", "selected"} <= set(body["lessons"][0])


async def test_arena_json_per_car_and_default(tmp_path):
    async with classroom_server(tmp_path, cars=["car-1"]) as srv:
        status, body = await get(srv, "/api/arena?car=car-1")
        assert status == 200 and body["arena"]["width_cm"] == srv.classroom.default_arena.width_cm
        assert body["start"]["x_cm"] > 0
        status, body = await get(srv, "/api/arena")
        assert status == 200 and body["car_id"] is None


async def test_socket_io_client_and_arena_page_are_served_without_a_cdn(tmp_path):
    async with classroom_server(tmp_path) as srv:
        async with srv.http.get(srv.url + "/vendor/socket.io.min.js") as resp:
            assert resp.status == 200 and len(await resp.read()) > 10_000
        async with srv.http.get(srv.url + "/vendor/../pyproject.toml") as resp:
            assert resp.status == 404
        async with srv.http.get(srv.url + "/arena/") as resp:
            html = await resp.text()
            assert resp.status == 200 and "/arena/arena.js" in html and "://" not in html  # no CDN
        async with srv.http.get(srv.url + "/arena/arena.js") as resp:
            assert resp.status == 200 and "export class ArenaView" in await resp.text()


async def test_vendor_helper_serves_node_module_folders(tmp_path):
    from aiohttp import web
    from server.web.vendor import serve_node_module
    app = web.Application()
    assert serve_node_module(app, "socket.io-client/dist", "sio") == "/vendor/sio/"
    with pytest.raises(FileNotFoundError, match="make setup"):
        serve_node_module(app, "no-such-package")
    with pytest.raises(FileNotFoundError):
        serve_node_module(app, "../server")


async def test_cors_only_for_allowed_origins_and_never_for_teacher_endpoints(tmp_path):
    async with classroom_server(tmp_path, allowed_origins=["https://turbowarp.org"]) as srv:
        tw = {"Origin": "https://turbowarp.org"}
        async with srv.http.get(srv.url + "/api/catalog?level=1", headers=tw) as resp:
            assert resp.headers["Access-Control-Allow-Origin"] == "https://turbowarp.org"
            assert "Access-Control-Allow-Credentials" not in resp.headers
        async with srv.http.options(srv.url + "/api/join", headers={
                **tw, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}) as resp:
            assert resp.status == 204 and "POST" in resp.headers["Access-Control-Allow-Methods"]
        async with srv.http.get(srv.url + "/api/catalog?level=1", headers={"Origin": "https://evil.example"}) as resp:
            assert "Access-Control-Allow-Origin" not in resp.headers
        async with srv.http.get(srv.url + "/api/teacher/me", headers=tw) as resp:
            assert resp.status == 401 and "Access-Control-Allow-Origin" not in resp.headers


async def test_the_feature_example_in_docs_server_md_runs(tmp_path):
    import re
    import types
    from pathlib import Path

    from server.app import create_app
    from server.core.config import ServerConfig
    doc = (Path(__file__).resolve().parents[3] / "docs" / "server.md").read_text()
    code = re.search(r"## Adding a feature.*?```python\n(.*?)```", doc, re.S).group(1)
    feature = types.ModuleType("doc_feature")
    exec(compile(code, "docs/server.md", "exec"), feature.__dict__)
    from aiohttp import web
    app = create_app(ServerConfig(port=0, data_dir=tmp_path, teacher_password="pw-1234"))
    feature.setup(app)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            async with http.get(url + "/api/teacher/export") as resp:
                assert resp.status == 401  # the example's require_teacher works
            async with http.post(url + "/api/teacher/login", json={"password": "pw-1234"}) as resp:
                assert resp.status == 200
            async with http.get(url + "/api/teacher/export") as resp:
                assert resp.status == 200 and (await resp.json()) == {"rows": []}
    finally:
        await runner.cleanup()
