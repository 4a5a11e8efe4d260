"""GET /metrics: what this process is doing, for Prometheus (text exposition format).

Counted from the core's events (never from a feature's internals): kids and cars online, blocks by
final answer, block -> final answer latency, refusals by rule, e-stops, runs, requests waiting for a car,
whether the process is draining; the lessons feature adds its coach queue. Labels are statuses and rules
only (server/web/metrics.py turns anything else into ``other``): no kid's name or id is ever exported.

Who may read it (config ``ops``): a request with ``Authorization: Bearer <metrics_token>``, and while
``metrics_from_loopback`` is on (the default), a direct request from this machine. A request that came
through a proxy (it carries X-Forwarded-For, X-Real-IP or Forwarded) is never "from this machine":
behind nginx every request arrives from 127.0.0.1.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import time
from typing import Callable

from aiohttp import web

from server.core.classroom import Classroom
from server.core.types import BlockReply
from server.web.http import json_error
from server.web.metrics import Metrics
from server.web.state import CLASSROOM, CONFIG, METRICS

# block -> final answer: a refusal takes microseconds, a move seconds, a timeout up to two minutes
BLOCK_SECONDS_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
PROXY_HEADERS = ("X-Forwarded-For", "X-Real-IP", "Forwarded")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def register(app: web.Application, draining: Callable[[], bool]) -> None:
    classroom: Classroom = app[CLASSROOM]
    m: Metrics = app[METRICS]
    m.gauge("dojo_kids_online", "Kids connected to this process (any editor), each once.", classroom.presence.count)
    m.gauge("dojo_cars_online", "Cars connected to this process.", lambda: len(classroom.connected_car_ids()))
    m.gauge("dojo_requests_pending", "Skill requests given to a car (running or queued) without a final answer yet.",
            classroom.dispatcher.pending)
    m.gauge("dojo_draining", "1 while this process drains (SIGTERM): it takes no new work.", lambda: float(draining()))
    answers = m.counter("dojo_block_answers_total", "Blocks by final answer.", ("status",))
    refusals = m.counter("dojo_block_refusals_total", "Refused blocks by the rule that refused them.", ("rule",))
    latency = m.histogram("dojo_block_seconds", "Block call -> its final answer, by answer.", BLOCK_SECONDS_BUCKETS,
                          ("status",))
    estops = m.counter("dojo_estops_total", "Teacher emergency stops.")
    estop_cars = m.counter("dojo_estop_cars_total", "Cars an emergency stop reached.")
    runs = m.counter("dojo_runs_started_total", "Programs started (green flags).")
    m.counter_read("process_cpu_seconds_total", "CPU time of this process (user + system).", time.process_time)
    m.gauge("process_resident_memory_bytes", "Resident memory of this process.", _resident_bytes)

    def on_block(kid_id: str, reply: BlockReply, seconds: float) -> None:
        answers.inc(status=reply.status)
        latency.observe(seconds, status=reply.status)
        if reply.status == "refused":
            refusals.inc(rule=reply.rule or "refused")

    def on_estop(reason: str, car_ids: list[str]) -> None:
        estops.inc()
        estop_cars.inc(len(car_ids))

    classroom.events.subscribe("block_answered", on_block)
    # counted by the process where it happened (several processes: each scrape is its own)
    classroom.events.subscribe("estop", on_estop, scope="origin")
    classroom.events.subscribe("run_started", lambda run: runs.inc(), scope="origin")


def _resident_bytes() -> float:
    try:
        with open("/proc/self/statm") as f:
            return float(int(f.read().split()[1]) * PAGE_SIZE)
    except (OSError, IndexError, ValueError):
        return 0.0


def may_read(request: web.Request) -> bool:
    ops = request.app[CONFIG].ops
    given = request.headers.get("Authorization", "")
    if ops.metrics_token and hmac.compare_digest(given.encode(), f"Bearer {ops.metrics_token}".encode()):
        return True
    if not ops.metrics_from_loopback or any(h in request.headers for h in PROXY_HEADERS):
        return False
    try:
        return ipaddress.ip_address(request.remote or "").is_loopback
    except ValueError:  # a unix socket: no address
        return False


async def metrics_page(request: web.Request) -> web.Response:
    if not may_read(request):
        raise json_error(403, "metrics_access", "/metrics is open to this machine and to the metrics token only",
                         fix="scrape it on the server itself (127.0.0.1, not through a proxy), or send "
                             "`Authorization: Bearer <ops.metrics_token>` from the server config")
    return web.Response(text=request.app[METRICS].render(), headers={"Content-Type": Metrics.CONTENT_TYPE})
