"""Operations: running a server process in a pool (docs/deploy.md).

- Routes: ``GET /metrics`` (Prometheus text; this machine or the metrics token: metrics.py). ``/api/health``
  stays in server/app.py and reads ``app[DRAINING]`` from here (200 ok / 503 draining).
- Middlewares: request ids for the logs (logs.py); while draining, new socket.io sessions and
  ``/scratch/ble`` sockets are answered 503 (drain.py).
- Classroom checks: while draining, new blocks and runs are refused (``server_draining``).
- Subscribes to: block_answered, estop, run_started (the metrics).
- ``drain.drain(app)``: what `dojo server` runs on SIGTERM before it exits.
"""

from __future__ import annotations

from aiohttp import web

from server.ops import metrics
from server.ops.drain import DRAINING, Draining, refuse_new_connections
from server.ops.logs import request_ids
from server.web.state import CLASSROOM

__all__ = ["DRAINING", "Draining", "setup"]


def setup(app: web.Application) -> None:
    draining = app[DRAINING] = Draining()
    classroom = app[CLASSROOM]
    classroom.block_checks.append(draining.refuse_block)
    classroom.program_checks.append(draining.refuse_program)
    app.middlewares.append(request_ids)
    app.middlewares.append(refuse_new_connections)
    metrics.register(app, lambda: draining.active)
    app.router.add_get("/metrics", metrics.metrics_page)
