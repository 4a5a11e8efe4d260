"""Serve third-party browser files from node_modules under /vendor/ (no CDN: classrooms may be offline).

``serve_node_module(app, "blockly")`` serves node_modules/blockly/ at /vendor/blockly/; other
features call it for what their pages need. aiohttp's static handler refuses paths outside the folder.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

REPO_ROOT = Path(__file__).resolve().parents[2]
NODE_MODULES = REPO_ROOT / "node_modules"
SOCKET_IO_CLIENT = NODE_MODULES / "socket.io-client" / "dist"


def serve_node_module(app: web.Application, subpath: str, url_name: str | None = None) -> str:
    """Serve node_modules/<subpath>/ at /vendor/<url_name or subpath>/; returns the URL prefix."""
    folder = (NODE_MODULES / subpath).resolve()
    if NODE_MODULES.resolve() not in folder.parents or not folder.is_dir():
        raise FileNotFoundError(f"node_modules/{subpath} is missing — run `make setup` (npm ci)")
    prefix = f"/vendor/{(url_name or subpath).strip('/')}"
    app.router.add_static(prefix, folder, follow_symlinks=False)
    return prefix + "/"


async def _socket_io(request: web.Request) -> web.FileResponse:
    name = request.match_info["name"]
    path = SOCKET_IO_CLIENT / name
    if not path.is_file():
        raise web.HTTPNotFound(text=f"{name} is missing from node_modules/socket.io-client/dist — run `make setup`")
    return web.FileResponse(path, headers={"Cache-Control": "max-age=3600"})


def setup(app: web.Application) -> None:
    app.router.add_get(r"/vendor/{name:socket\.io(\.esm)?\.min\.js(\.map)?}", _socket_io)
