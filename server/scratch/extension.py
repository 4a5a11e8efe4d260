"""The Scratch extension file and the Scratch editor the server serves, and the TurboWarp listener.

- ``GET /scratch/extension.js``  the MIKRO-DOJO extension (TurboWarp format), with CORS headers, this
                                 server's address (plus ``?class=&name=`` if given) and the blocks from
                                 the block table (curriculum.front_ends.scratch_table) filled in.
- ``GET /scratch/``              the Scratch editor (prebuilt scratch-gui) with the extension preloaded.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web

from curriculum.front_ends import scratch_table
from server.web.vendor import REPO_ROOT, serve_node_module

log = logging.getLogger(__name__)

EXTENSION_FILE = REPO_ROOT / "scratch_extension" / "mikrodojo.js"
EDITOR_DIR = REPO_ROOT / "scratch_extension" / "editor"
CONFIG_PLACEHOLDER = "{/*MIKRODOJO_CONFIG*/}"
BLOCKS_PLACEHOLDER = "{/*MIKRODOJO_BLOCKS*/}"

# TurboWarp's web editor: `--turbowarp` adds it to allowed_origins (other hosts: allowed_origins).
TURBOWARP_ORIGINS = ("https://turbowarp.org", "https://www.turbowarp.org")
TURBOWARP_PORT = 8000  # TurboWarp runs an extension unsandboxed only from http://localhost:8000/


def extension_source(server_url: str, class_code: str | None = None, name: str | None = None) -> str:
    """The extension file as this server serves it: its address, the optional kid, and the blocks."""
    config: dict[str, Any] = {"server": server_url}
    if class_code:
        config["classCode"] = class_code[:16]
    if name:
        config["name"] = name[:40]
    return (EXTENSION_FILE.read_text().replace(CONFIG_PLACEHOLDER, json.dumps(config), 1)
            .replace(BLOCKS_PLACEHOLDER, json.dumps(scratch_table()), 1))


def turbowarp_options(port: int = TURBOWARP_PORT, allowed_origins: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
    """ServerConfig fields for TurboWarp: the extra localhost listener and TurboWarp's origins."""
    return {"turbowarp_port": port,
            "allowed_origins": [*allowed_origins, *(o for o in TURBOWARP_ORIGINS if o not in allowed_origins)]}


async def start_turbowarp_listener(runner: web.AppRunner, port: int) -> None:
    """The same app on localhost:PORT: IPv4 always, IPv6 where the machine has it (browsers try both)."""
    try:
        await web.TCPSite(runner, "127.0.0.1", port).start()
    except OSError as exc:
        raise OSError(exc.errno, f"cannot listen on localhost:{port} for TurboWarp ({exc.strerror}): stop the "
                                 f"program using port {port}, or start without --turbowarp") from None
    try:
        await web.TCPSite(runner, "::1", port).start()
    except OSError as exc:  # no IPv6 loopback (some containers): 127.0.0.1 serves localhost alone
        log.info("TurboWarp listener: no [::1]:%d (%s); 127.0.0.1 only", port, exc)


def _cors_headers(_request: web.Request) -> dict[str, str]:
    return {"Access-Control-Allow-Origin": "*", "Cache-Control": "no-cache"}


async def extension_js(request: web.Request) -> web.Response:
    source = extension_source(f"{request.scheme}://{request.host}", request.query.get("class"), request.query.get("name"))
    return web.Response(text=source, content_type="application/javascript", headers=_cors_headers(request))


async def extension_options(request: web.Request) -> web.Response:
    return web.Response(headers={**_cors_headers(request), "Access-Control-Allow-Methods": "GET",
                                 "Access-Control-Allow-Headers": "*"})


async def editor_index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(EDITOR_DIR / "index.html", headers={"Cache-Control": "no-cache"})


async def _redirect_to_editor(request: web.Request) -> web.Response:
    raise web.HTTPFound("/scratch/")


def setup(app: web.Application) -> None:
    app.router.add_get("/scratch/extension.js", extension_js)
    app.router.add_route("OPTIONS", "/scratch/extension.js", extension_options)
    app.router.add_get("/scratch", _redirect_to_editor)
    app.router.add_get("/scratch/", editor_index)
    app.router.add_static("/scratch/editor", EDITOR_DIR, follow_symlinks=False)
    # The editor's third-party files, from node_modules (BSD-3 scratch-gui 4.0.x, MIT React 16): no CDN.
    serve_node_module(app, "scratch-gui/dist", "scratch-gui")
    serve_node_module(app, "react/umd", "react")
    serve_node_module(app, "react-dom/umd", "react-dom")
