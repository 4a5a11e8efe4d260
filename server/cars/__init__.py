"""Cars: the /car socket, the one adapter between the classroom and the cars.

- socket.io ``/car`` (``hub``): cars connect with a CarHello and their pairing token; receive heartbeat,
  limits, arena, skill, cancel, stop, estop, reset_estop; send result and telemetry.
- ``port(app)`` builds the CarPort the Classroom is made with (server/app.py); ``setup`` registers the
  namespace and the heartbeats. Publishes (through the classroom): car_connected, car_disconnected,
  telemetry, safety.
"""

from __future__ import annotations

from aiohttp import web

from server.cars import hub
from server.cars.hub import port

__all__ = ["port", "setup"]


def setup(app: web.Application) -> None:
    hub.setup(app)
