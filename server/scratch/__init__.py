"""Scratch: the Scratch-Link endpoint, the extension file, the served Scratch editor and the kid's project.

- ``GET /scratch/ble`` (``link``, over the I/O-free ``protocol``): Scratch Link's BLE JSON-RPC; a write
  is a block call, results and telemetry come back as notifications.
- ``GET /scratch/extension.js`` (``extension``): the extension with this server's address and the block
  table (curriculum.front_ends.scratch_table) filled in; ``GET /scratch/``: the editor; the TurboWarp
  listener on localhost:8000.
- ``GET/PUT /api/programs/scratch`` (``projects``): the kid's Scratch project as an .sb3, kept on the server.
- Subscribes to: telemetry, car_connected, car_disconnected, assignment_changed, car_changed, level_changed.
  Reports its sockets to the core's presence. On a drain (``ON_DRAIN``) each socket gets ``server_moving``
  and closes with 1012.
"""

from __future__ import annotations

from aiohttp import web

from server.scratch import extension, link, projects


def setup(app: web.Application) -> None:
    link.setup(app)
    extension.setup(app)
    projects.setup(app)
