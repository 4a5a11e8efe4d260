"""Several server processes of one classroom service, over Redis (docs/cluster.md).

Selected by ``redis_url`` (``dojo server --redis redis://...``); without it nothing here runs and Redis
is not needed (``dojo demo``). The pieces:

- ``socket_manager(config)``: python-socketio's AsyncRedisManager, so rooms and emits reach sockets on
  every process (a teacher console on one process hears what happens on another);
- ``peers.py``: which processes are alive, which car is connected where, ordered messages with answers;
- server/core/cluster.py (the core's side): a kid's request for a car held by another process goes
  into that process's queue for the car; stops and the e-stop skip every queue;
- ``bridge.py``: the classroom events other processes need, as explicit JSON, replayed on their buses.

``setup(app)`` ties the peers' lifetime to the app's; ``/api/health`` shows the process id and counts.
"""

from __future__ import annotations

from typing import Any, AsyncIterator

from aiohttp import web

from server.core.cluster import ClusterUnavailable
from server.core.config import ServerConfig
from server.web.state import CLASSROOM, CONFIG

SOCKETIO_CHANNEL = "dojo:socketio"  # python-socketio's own pub/sub channel in the shared Redis


def peers_for(config: ServerConfig) -> Any:
    """The Redis peers of this process, or None when it runs alone (no redis_url)."""
    if not config.redis_url:
        return None
    try:
        from server.cluster.peers import RedisPeers  # the redis package is needed only with --redis
    except ImportError as exc:
        raise ClusterUnavailable(f"--redis needs the redis package ({exc}) — "
                                 "pip install 'mikro-dojo[server,cluster]'") from None
    return RedisPeers(config.redis_url)


def socket_manager(config: ServerConfig) -> Any:
    """python-socketio's client manager: across processes with Redis, in-process (its default) without."""
    if not config.redis_url:
        return None
    import socketio

    return socketio.AsyncRedisManager(config.redis_url, channel=SOCKETIO_CHANNEL)


async def _lifetime(app: web.Application) -> AsyncIterator[None]:
    from redis.exceptions import RedisError

    from server.cluster.bridge import Bridge

    classroom = app[CLASSROOM]
    assert classroom.remote is not None
    peers = classroom.remote.peers
    bridge = app[BRIDGE] = Bridge(classroom, peers)
    bridge.subscribe()
    try:
        await peers.start(classroom.remote.serve, bridge.on_event, classroom.remote.process_gone)
    except (RedisError, OSError) as exc:
        await peers.close()
        raise ClusterUnavailable(f"cannot reach Redis at {peers.url}: {exc} — start redis-server there, or fix "
                                 "--redis / redis_url (without it the server runs as one process)") from None
    classroom.remote.hello()  # who is online on the others (the teacher's roster here shows them)
    yield
    await peers.close()


def health(app: web.Application) -> dict[str, Any] | None:
    """What /api/health adds about the cluster (None: one process)."""
    classroom = app[CLASSROOM]
    if classroom.remote is None:
        return None
    peers, bridge = classroom.remote.peers, app.get(BRIDGE)
    return {"process": peers.node_id, "processes_alive": len(peers.alive()), "cars_in_cluster": len(peers.cars()),
            "requests_forwarded": classroom.remote.forwarded, "requests_served": classroom.remote.served,
            "events_forwarded": bridge.forwarded if bridge else 0, "events_replayed": bridge.replayed if bridge else 0}


BRIDGE: web.AppKey[Any] = web.AppKey("cluster_bridge", object)


def setup(app: web.Application) -> None:
    if app[CONFIG].redis_url:
        app.cleanup_ctx.append(_lifetime)
