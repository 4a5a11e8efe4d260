"""Background work bound to the app's lifetime: the one periodic-task helper for ``cleanup_ctx``.

    app.cleanup_ctx.append(periodic("heartbeats", HEARTBEAT_PERIOD_S, send_heartbeats, wait_first=False))

Start-up starts the loop, shutdown cancels it and waits for it. A failing step is logged and the next
one runs on time: a background loop never dies silently and never takes the app down.
"""

from __future__ import annotations

import asyncio
import logging
from typing import AsyncIterator, Awaitable, Callable

from aiohttp import web

log = logging.getLogger(__name__)

Step = Callable[[web.Application], Awaitable[None]]
CleanupContext = Callable[[web.Application], AsyncIterator[None]]


def periodic(what: str, period_s: float, step: Step, *, wait_first: bool = True) -> CleanupContext:
    """A cleanup_ctx entry that runs ``await step(app)`` every ``period_s`` (after one period first, or
    at once with ``wait_first=False``) for as long as the app runs."""

    async def lifetime(app: web.Application) -> AsyncIterator[None]:
        async def loop() -> None:
            while True:
                if wait_first:
                    await asyncio.sleep(period_s)
                try:
                    await step(app)
                except Exception:
                    log.exception("%s failed; the next one runs in %g s", what, period_s)
                if not wait_first:
                    await asyncio.sleep(period_s)

        task = asyncio.create_task(loop(), name=what)
        yield
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    return lifetime
