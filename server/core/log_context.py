"""What a log line is about: the request, run or socket event being handled, for structured logs.

A line about one thing that the context does not know passes them itself:
``log.info(..., extra={"fields": {"request_id": ...}})``.
``bound(run_id=..., request_id=...)`` holds fields for the code inside the ``with`` (and every task it
starts: asyncio copies the context into new tasks); the JSON log format (server/ops/logs.py) adds them to
each line. Ids only, never a kid's name: logs leave the machine more easily than the database.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import Context, ContextVar, copy_context
from typing import Iterator

_FIELDS: ContextVar[dict[str, str]] = ContextVar("log_fields", default={})


def fields() -> dict[str, str]:
    return _FIELDS.get()


@contextmanager
def bound(**new: object) -> Iterator[None]:
    token = _FIELDS.set({**_FIELDS.get(), **{k: str(v) for k, v in new.items() if v is not None}})
    try:
        yield
    finally:
        _FIELDS.reset(token)


def context_with(**new: object) -> Context:
    """A copy of the current context holding these fields too: for a task that is about one thing
    (``loop.create_task(coro, context=context_with(request_id=...))``)."""
    ctx = copy_context()
    ctx.run(_FIELDS.set, {**_FIELDS.get(), **{k: str(v) for k, v in new.items() if v is not None}})
    return ctx
