"""A kid's attempt images are fetched with a short-lived URL signed for that attempt, never with the kid's
token in the URL (issue 17, finding 5): URLs end up in logs, history and Referer headers. Real server,
real simulated car, a real graded lesson attempt. Before the fix the URLs carried ?token=<kid token>."""

from __future__ import annotations

from core_harness import CALL_TIMEOUT_S, classroom_server, wait_for

from curriculum.coach import Coach, CoachConfig
from server.core.auth import UrlSigner
from server.lessons.routes import IMAGE_PURPOSE
from server.lessons.service import ATTEMPTS

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
GRADED_WAIT_S = 60.0  # drive, rest, judge and draw on a busy machine


async def graded_attempt(srv, kid: dict) -> str:
    auth = {"Authorization": f"Bearer {kid['token']}"}
    async with srv.http.post(f"{srv.url}/api/lessons/select", json={"lesson_id": "l1-wake-up"}, headers=auth) as r:
        assert r.status == 200, await r.text()
    sio = await srv.kid_socket(kid["token"])
    lesson = srv.handle.app[ATTEMPTS].lesson_set.get("l1-wake-up")
    started = await sio.call("run_start", {"source": "blockly", "program": lesson.solution.blockly,
                                           "lesson_id": "l1-wake-up"}, namespace="/kid", timeout=CALL_TIMEOUT_S)
    reply = await sio.call("block", {"block": "move_forward", "args": {"distance": 180}, "run_id": started["run_id"]},
                           namespace="/kid", timeout=CALL_TIMEOUT_S)
    assert reply["status"] == "done", reply
    await sio.call("run_end", {"run_id": started["run_id"], "reason": "finished"}, namespace="/kid",
                   timeout=CALL_TIMEOUT_S)
    store = srv.handle.app[ATTEMPTS].store
    rows = await wait_for(lambda: [r for r in store.rows_of_kid(kid["kid_id"]) if r["status"] == "graded"],
                          "the graded attempt", GRADED_WAIT_S)
    return rows[0]["attempt_id"]


async def test_image_urls_carry_a_short_lived_signature_for_one_attempt_never_the_kid_token(tmp_path):
    async with classroom_server(tmp_path, cars=["car-1"]) as srv:
        srv.handle.app[ATTEMPTS].coach = Coach(CoachConfig(enabled=False))
        kid = await srv.join("Mia")
        attempt_id = await graded_attempt(srv, kid)
        auth = {"Authorization": f"Bearer {kid['token']}"}
        async with srv.http.get(f"{srv.url}/api/attempts/{attempt_id}", headers=auth) as resp:
            detail = await resp.json()
        urls = [detail["images"]["overlay"], *detail["images"]["key_frames"]]
        assert urls[0] and len(urls) >= 2
        for url in urls:
            assert kid["token"] not in url and "token=" not in url and "?sig=" in url
            async with srv.http.get(srv.url + url) as resp:  # what an <img> does: no header, no cookie
                assert resp.status == 200 and (await resp.read()).startswith(PNG_MAGIC)
        overlay = detail["images"]["overlay"]
        path, sig = overlay.split("?sig=")
        refused = [
            path + "?sig=" + sig[:-2] + ("AA" if not sig.endswith("AA") else "BB"),  # tampered
            path.replace(attempt_id, "a000000000000") + "?sig=" + sig,  # another attempt's URL
            path + "?sig=" + UrlSigner(srv.config.resolved_secret_key()).sign(IMAGE_PURPOSE, attempt_id, -1),  # expired
            path + "?sig=" + UrlSigner(srv.config.resolved_secret_key()).sign("other-purpose", attempt_id, 600),
            path + "?token=" + kid["token"],  # the kid token in a URL is no key any more
            path,
        ]
        for url in refused:
            async with srv.http.get(srv.url + url) as resp:
                assert resp.status in (401, 404), (url, resp.status)

        teacher = await srv.teacher()
        try:
            status, body = await teacher.get(f"/api/attempts/{attempt_id}")
            assert status == 200 and "?" not in body["images"]["overlay"]  # the teacher's cookie is enough
            async with teacher.http.get(srv.url + body["images"]["overlay"]) as resp:
                assert resp.status == 200
        finally:
            await teacher.http.close()
