"""Our python-socketio server: the library's AsyncServer plus a clear answer to undecodable packets.

python-socketio raises (and logs a traceback) when a client sends a frame it cannot decode, e.g.
broken JSON or JSON nested thousands of levels deep: the client hears nothing. Here such a frame is counted, and the client gets an error
naming the rule and the fix — as the ack of the call if the frame carried an ack id, otherwise as a
``message_error`` event — and its connection stays up.

A client may also *emit* an event called ``connect`` or ``disconnect``: python-socketio hands it to the
namespace's connect/disconnect handler as if the connection had opened or closed (a kid's fake
``disconnect`` would stop their car and end their run; a fake ``connect`` raises and is never
answered). Those names are the library's own: an event with one of them is refused the same way.

Events a namespace marks with ``handle_inline`` (a car's telemetry: hundreds a second that never wait
for anything) run in the socket's reader itself, in the order they arrived, instead of in a new task
each (python-socketio's ``async_handlers``): one task and two event-loop turns less per sample. Any
other event — a kid's block that waits for its car — still gets its own task, so the socket keeps
reading (a stop is never queued behind a block).
"""

from __future__ import annotations

import logging
import re
from typing import Any

import socketio
from socketio import packet

from robot_runtime.protocol import ErrorInfo
from server.web.errors import error_reply, too_deep

log = logging.getLogger(__name__)

# "<type>[/namespace,][ack id]<payload>" — enough of the socket.io v5 framing to answer the sender
_FRAME_HEAD = re.compile(r"^(\d)(?:\d+-)?(?:(/[^,]{1,64}),)?(\d{1,12})?")


def malformed_reply(exc: Exception) -> dict[str, Any]:
    if isinstance(exc, RecursionError):  # thousands of nested [ or {: the decoder gives up
        return error_reply(too_deep("packet"))
    return error_reply(ErrorInfo(rule="malformed_packet", message=f"could not decode the socket.io packet: {exc}"[:200],
                                 fix="send JSON through a socket.io client (emit/call), not hand-made frames"))


class DojoSocketServer(socketio.AsyncServer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.malformed_packets = 0
        self.reserved_event_packets = 0
        self.inline_events: set[tuple[str, str]] = set()  # (namespace, event)

    def handle_inline(self, namespace: str, event: str) -> None:
        """Run this event's handler in the socket's reader: only for handlers that never wait (no ack)."""
        self.inline_events.add((namespace, event))

    async def _handle_eio_message(self, eio_sid: str, data: Any) -> None:
        try:
            await super()._handle_eio_message(eio_sid, data)
        except (ValueError, TypeError, KeyError, IndexError, RecursionError) as exc:
            self.malformed_packets += 1
            log.warning("undecodable socket.io packet from %s: %s", eio_sid, exc)
            await self._answer_malformed(eio_sid, data, exc)

    async def _handle_event(self, eio_sid: str, namespace: str | None, id: Any, data: Any) -> None:
        if isinstance(data, list) and data and data[0] in self.reserved_events:
            namespace = namespace or "/"
            self.reserved_event_packets += 1
            sid = self.manager.sid_from_eio_sid(eio_sid, namespace)
            log.warning("client %s emitted the reserved event %r; refused", sid, data[0])
            if sid is None or not self.manager.is_connected(sid, namespace):
                return
            reply = error_reply(ErrorInfo(rule="reserved_event", value=str(data[0]),
                                          message=f"{data[0]!r} is socket.io's own event; a client cannot send it",
                                          fix="connect or disconnect with the socket.io client instead"))
            if id is not None:
                await self._send_packet(eio_sid, self.packet_class(packet.ACK, namespace=namespace, data=[reply], id=id))
            else:
                await self.emit("message_error", reply, to=sid, namespace=namespace)
            return
        if id is None and isinstance(data, list) and data and (namespace or "/", data[0]) in self.inline_events:
            namespace = namespace or "/"
            sid = self.manager.sid_from_eio_sid(eio_sid, namespace)
            if sid is not None and self.manager.is_connected(sid, namespace):
                try:
                    await self._trigger_event(data[0], namespace, sid, *data[1:])
                except Exception:  # as a handler task would: logged, never taken for a malformed packet
                    log.exception("%s handler for %s failed", data[0], sid)
            return
        await super()._handle_event(eio_sid, namespace, id, data)

    async def _answer_malformed(self, eio_sid: str, data: Any, exc: Exception) -> None:
        if not isinstance(data, str):
            return
        head = _FRAME_HEAD.match(data)
        named = head.group(2) if head else None
        # a frame without a readable namespace: tell every namespace this client joined
        namespaces = [named or "/"] if named or (head and head.group(3)) else list(self.manager.get_namespaces())
        reply = malformed_reply(exc)
        ack_id = head.group(3) if head and head.group(1) == str(packet.EVENT) else None
        try:
            for namespace in namespaces:
                sid = self.manager.sid_from_eio_sid(eio_sid, namespace)
                if sid is None:
                    continue  # not connected to that namespace: nobody to answer there
                if ack_id is not None:
                    await self._send_packet(eio_sid, self.packet_class(packet.ACK, namespace=namespace, data=[reply],
                                                                       id=int(ack_id)))
                else:
                    await self.emit("message_error", reply, to=sid, namespace=namespace)
        except Exception as send_exc:  # the client left meanwhile
            log.info("could not answer a malformed packet: %r", send_exc)
