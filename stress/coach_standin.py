"""The coach model's stand-in for the soak: the tests' local Ollama app (tests/curriculum/fake_ollama.py,
which records every request) on a fixed port, with a mode the fault schedule switches:

    ok      answers at once with a kid-friendly reply
    slow    answers after SLOW_S
    hang    answers after HANG_S (longer than the server's coach timeout: the server must give up)
    down    the port is closed (connection refused)
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Literal

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "curriculum"))
from fake_ollama import FakeOllama, reply  # noqa: E402

Mode = Literal["ok", "slow", "hang", "down"]
SLOW_S = 3.0  # a busy CPU model on a classroom laptop
HANG_S = 600.0  # never answers in time; the server's coach timeout (10 s in the soak) ends the wait
OK_REPLY = reply("You drove all the way!", "Try a smaller turn next time.", True)


class CoachStandIn(FakeOllama):
    def __init__(self, port: int) -> None:
        super().__init__()
        self.port = port
        self.mode: Mode = "ok"
        self.answered = 0
        self.requests_seen = 0

    async def start(self) -> "CoachStandIn":
        app = web.Application()
        app.router.add_post("/api/chat", self._chat)
        app.router.add_get("/api/tags", self._tags)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        self.url = f"http://127.0.0.1:{self.port}"
        return self

    async def set_mode(self, mode: Mode) -> None:
        if mode == "down" and self.mode != "down":
            await self.stop()
        elif mode != "down" and self.mode == "down":
            await self.start()
        self.mode = mode

    async def _chat(self, request: web.Request) -> web.Response:
        """As FakeOllama's, but without keeping each body (a long soak would hold every frame it sent)."""
        body = await request.json()
        self.requests_seen += 1
        if self.mode in ("slow", "hang"):
            await asyncio.sleep(SLOW_S if self.mode == "slow" else HANG_S)
        self.answered += 1
        return web.json_response({
            "model": body.get("model", ""), "created_at": "2026-12-02T12:00:00Z",
            "message": {"role": "assistant", "content": OK_REPLY}, "done": True, "done_reason": "stop",
            "total_duration": 1_000_000, "eval_count": 42,
        })


async def _main() -> None:  # python -m stress.coach_standin PORT: the stand-in alone, for a manual soak
    coach = await CoachStandIn(int(sys.argv[1])).start()
    print(f"coach stand-in on {coach.url}", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(_main())
