"""The kid's Scratch project on the server: an .sb3 goes in and comes back byte for byte; anything that
is not a Scratch project (or too big) is refused naming the rule, and the saved one stays."""

from __future__ import annotations

import io
import json
import zipfile

import aiohttp

from core_harness import classroom_server
from server.scratch.projects import MAX_SB3_BYTES

URL = "/api/programs/scratch"


def sb3(project: dict | None = None, extra: dict[str, bytes] | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        if project is not None:
            zf.writestr("project.json", json.dumps(project))
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return buf.getvalue()


PROJECT = {"targets": [{"isStage": True, "name": "Stage", "blocks": {}}], "meta": {"semver": "3.0.0"}}


async def put(http: aiohttp.ClientSession, url: str, token: str, body: bytes) -> tuple[int, dict]:
    async with http.put(url, data=body, headers={"Authorization": f"Bearer {token}"}) as resp:
        return resp.status, await resp.json()


async def test_a_saved_project_comes_back_byte_for_byte_and_only_to_its_kid(tmp_path):
    async with classroom_server(tmp_path) as srv:
        mia, leo = await srv.join("Mia"), await srv.join("Leo")
        url = srv.url + URL
        async with srv.http.get(url, headers={"Authorization": f"Bearer {mia['token']}"}) as resp:
            assert resp.status == 204  # nothing saved yet: the editor starts the default project
        data = sb3(PROJECT, {"cat.svg": b"<svg/>"})
        status, body = await put(srv.http, url, mia["token"], data)
        assert status == 200 and body["bytes"] == len(data)
        async with srv.http.get(url, headers={"Authorization": f"Bearer {mia['token']}"}) as resp:
            assert resp.status == 200 and resp.content_type == "application/x.scratch.sb3"
            assert await resp.read() == data
        async with srv.http.get(url, headers={"Authorization": f"Bearer {leo['token']}"}) as resp:
            assert resp.status == 204, "Leo never sees Mia's project"
        async with srv.http.get(url) as resp:
            assert resp.status == 401


async def test_what_is_not_a_scratch_project_is_refused_and_the_saved_one_stays(tmp_path):
    async with classroom_server(tmp_path) as srv:
        mia = await srv.join("Mia")
        url = srv.url + URL
        good = sb3(PROJECT)
        assert (await put(srv.http, url, mia["token"], good))[0] == 200
        for body, rule in ((b"not a zip at all", "sb3_file"), (sb3(None, {"x.txt": b"hi"}), "sb3_project_json"),
                           (sb3({"no": "targets"}), "sb3_project_json"),
                           (sb3(PROJECT, {"bomb.bin": b"\0" * (40 * 2**20)}), "sb3_unzipped_size")):
            status, reply = await put(srv.http, url, mia["token"], body)
            assert status == 400 and reply["error"]["rule"] == rule and reply["error"]["fix"], reply
        status, reply = await put(srv.http, url, mia["token"], b"P" * (MAX_SB3_BYTES + 1))
        assert status == 413 and reply["error"]["rule"] == "sb3_size"
        async with srv.http.get(url, headers={"Authorization": f"Bearer {mia['token']}"}) as resp:
            assert await resp.read() == good
