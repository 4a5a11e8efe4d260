"""Who is online right now, over any transport.

The /kid socket (Blockly, the SDK) and the Scratch-Link endpoint (/scratch/ble: Scratch, TurboWarp)
both report each connection here; the teacher's roster reads it, so a kid driving from TurboWarp is
online like any other. Each transport still learns when a kid's *last* connection of its own kind
closes (what it stops or ends then is its own rule).
"""

from __future__ import annotations

from collections.abc import Hashable


class Presence:
    def __init__(self) -> None:
        self._connections: dict[str, set[tuple[str, Hashable]]] = {}  # kid_id -> {(transport, connection)}

    def arrive(self, kid_id: str, transport: str, connection: Hashable) -> None:
        self._connections.setdefault(kid_id, set()).add((transport, connection))

    def leave(self, kid_id: str, transport: str, connection: Hashable) -> bool:
        """Forget one connection; True when it was the kid's last one on that transport."""
        held = self._connections.get(kid_id, set())
        held.discard((transport, connection))
        if not held:
            self._connections.pop(kid_id, None)
        return not self.on(kid_id, transport)

    def online(self, kid_id: str) -> bool:
        return kid_id in self._connections

    def count(self) -> int:
        """Kids online now, over any transport (each kid once)."""
        return len(self._connections)

    def on(self, kid_id: str, transport: str) -> bool:
        return any(t == transport for t, _ in self._connections.get(kid_id, ()))

    def kids_on(self, transport: str) -> list[str]:
        return [k for k, held in self._connections.items() if any(t == transport for t, _ in held)]
