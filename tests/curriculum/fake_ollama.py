"""A small local stand-in for an Ollama server (the edge of the world): speaks `POST /api/chat` and
`GET /api/tags` on 127.0.0.1 and RECORDS every request, so tests see exactly what the coach or the planner sent.

Replies are scripted per test as a queue: a string is the assistant's message content (`reply` for the
coach, `plan_reply` for the planner); ("sleep", s) answers after s seconds; ("status", code) answers with an
HTTP error.
Made to hang: ``hold()`` keeps every chat request open until ``release()``; ``in_flight`` and
``max_in_flight`` count the requests open at once (what a queue in front of the model must limit).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

Reply = str | tuple[str, float] | tuple[str, int]


@dataclass
class FakeOllama:
    replies: list[Reply] = field(default_factory=list)
    received: list[dict[str, Any]] = field(default_factory=list)
    tags_requests: int = 0
    url: str = ""
    in_flight: int = 0  # chat requests open right now
    max_in_flight: int = 0  # the most that were ever open at once
    _open: asyncio.Event | None = None  # set: answer; cleared: hang (see hold)
    _runner: web.AppRunner | None = None

    def hold(self) -> None:
        """From now on every chat request hangs (the model is stuck) until release()."""
        if self._open is None:
            self._open = asyncio.Event()
        self._open.clear()

    def release(self) -> None:
        if self._open is not None:
            self._open.set()

    async def start(self) -> "FakeOllama":
        app = web.Application()
        app.router.add_post("/api/chat", self._chat)
        app.router.add_get("/api/tags", self._tags)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _tags(self, request: web.Request) -> web.Response:
        self.tags_requests += 1
        return web.json_response({"models": [{"name": "qwen2.5vl:3b", "model": "qwen2.5vl:3b", "size": 3_200_000_000}]})

    async def _chat(self, request: web.Request) -> web.Response:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self._answer(request)
        finally:
            self.in_flight -= 1

    async def _answer(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.received.append(body)
        if self._open is not None:
            await self._open.wait()
        reply: Reply = self.replies.pop(0) if self.replies else "{}"
        if isinstance(reply, tuple) and reply[0] == "sleep":
            await asyncio.sleep(float(reply[1]))
            reply = self.replies.pop(0) if self.replies else "{}"
        if isinstance(reply, tuple) and reply[0] == "status":
            return web.json_response({"error": "model runner crashed"}, status=int(reply[1]))
        return web.json_response({
            "model": body.get("model", ""), "created_at": "2026-11-21T12:00:00Z",
            "message": {"role": "assistant", "content": reply}, "done": True, "done_reason": "stop",
            "total_duration": 1_000_000, "eval_count": 42,
        })


def reply(went_well: str, tip: str, goal_reached: bool) -> str:
    return json.dumps({"went_well": went_well, "tip": tip, "goal_reached": goal_reached})


def plan_reply(*steps: dict, note: str | None = None, cannot: list[str] | None = None) -> str:
    """A planner reply (curriculum.plan's wire form): plan_reply({"block": "move_forward", "distance": 30})."""
    body: dict[str, Any] = {"steps": list(steps)}
    if note is not None:
        body["note"] = note
    if cannot is not None:
        body["cannot"] = cannot
    return json.dumps(body)
