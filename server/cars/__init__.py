"""Cars: the /car socket, the one adapter between the classroom and the cars, and how a car joins.

- socket.io ``/car`` (``hub``): cars connect with a CarHello and their token (configured, or from
  pairing); receive heartbeat, limits, arena, skill, cancel, stop, estop, reset_estop; send result and
  telemetry.
- Pairing (``pairing`` the rules, ``pairing_api`` the routes): ``POST /api/teacher/pairing-codes``
  (the console's "Add a car" and the /setup/ wizard), ``GET /api/teacher/pairing-codes/{code}``,
  ``POST /api/cars/pair`` (the car's `dojo car pair URL CODE`). Keeps ``car_tokens`` and
  ``car_pairing_codes`` in the storage's key-value place.
- ``port(app)`` builds the CarPort the Classroom is made with (server/app.py); ``setup`` registers the
  namespace, the heartbeats and the pairing routes. Publishes (through the classroom): car_connected,
  car_disconnected, telemetry, safety.
"""

from __future__ import annotations

from aiohttp import web

from server.cars import hub, neighbours, pairing_api
from server.cars.hub import port

__all__ = ["port", "setup"]


def setup(app: web.Application) -> None:
    pairing_api.setup(app)
    hub.setup(app)
    neighbours.setup(app)
