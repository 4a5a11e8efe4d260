"""Log lines for people (the default) or for a log collector: ``dojo server --log-format json``.

json: one object per line on stderr: ``ts`` (UTC, ISO 8601), ``level``, ``logger``, ``msg``, the ids of
what the line is about when there is one (``http_request_id`` of the HTTP request or WebSocket it came
through — nginx's ``$request_id`` when it sends ``X-Request-ID`` — the block's ``run_id`` and skill
``request_id``, the ``car_id``: server/core/log_context.py) and ``exc`` with a traceback. Ids only, never
a kid's name in a field of ours. Access lines (aiohttp.access) come at INFO in json; the human format keeps
today's quiet default (warnings and errors).
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from datetime import datetime, timezone
from typing import Awaitable, Callable

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from server.core import log_context

HUMAN_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
REQUEST_ID_KEY = "ops.http_request_id"  # where the access log finds the id (the context is gone by then)
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")  # what we accept from X-Request-ID (nginx sends 32 hex digits)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            **log_context.fields(),
            **{k: str(v) for k, v in (getattr(record, "fields", None) or {}).items() if v is not None},
        }
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def configure(log_format: str) -> None:
    """The root logger's one handler (stderr), in the chosen format."""
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
        level = logging.INFO
    else:
        handler.setFormatter(logging.Formatter(HUMAN_FORMAT))
        level = logging.WARNING
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


class AccessLog(AbstractAccessLogger):
    """One line per HTTP request: method, path (never the query string: an embed URL can carry a kid's
    token), status, seconds and the request's id."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info("%s %s %s %.3f s", request.method, request.path, response.status, time,
                         extra={"fields": {"http_request_id": request.get(REQUEST_ID_KEY), "status": response.status,
                                           "seconds": round(time, 6)}})


@web.middleware
async def request_ids(request: web.Request,
                      handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
    """Every HTTP request (and the WebSocket it may become) logs under one id, told back in X-Request-ID."""
    given = request.headers.get("X-Request-ID", "")
    request_id = given if REQUEST_ID.fullmatch(given) else secrets.token_hex(8)
    request[REQUEST_ID_KEY] = request_id
    with log_context.bound(http_request_id=request_id):
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            exc.headers["X-Request-ID"] = request_id
            raise
    if not response.prepared:
        response.headers["X-Request-ID"] = request_id
    return response
