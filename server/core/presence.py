"""Who is online right now, over any transport.

The /kid socket (Blockly, the SDK) and the Scratch-Link endpoint (/scratch/ble: Scratch, TurboWarp)
both report each connection here; the teacher's roster reads it, so a kid driving from TurboWarp is
online like any other. Each transport still learns when a kid's *last* connection of its own kind
closes (what it stops or ends then is its own rule).

Several server processes (docs/cluster.md): ``on_change(kid_id, online)`` is told when a kid's first
connection to this process opens and their last one closes; server/cluster tells the other processes,
which keep it in ``elsewhere`` so the roster shows a kid online whichever process their editor is on.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable


class Presence:
    def __init__(self, on_change: Callable[[str, bool], None] | None = None) -> None:
        self._connections: dict[str, set[tuple[str, Hashable]]] = {}  # kid_id -> {(transport, connection)}
        self._elsewhere: dict[str, set[str]] = {}  # kid_id -> the other server processes they are connected to
        self._on_change = on_change

    def arrive(self, kid_id: str, transport: str, connection: Hashable) -> None:
        first = kid_id not in self._connections
        self._connections.setdefault(kid_id, set()).add((transport, connection))
        if first and self._on_change is not None:
            self._on_change(kid_id, True)

    def leave(self, kid_id: str, transport: str, connection: Hashable) -> bool:
        """Forget one connection; True when it was the kid's last one on that transport."""
        held = self._connections.get(kid_id, set())
        held.discard((transport, connection))
        if not held and self._connections.pop(kid_id, None) is not None and self._on_change is not None:
            self._on_change(kid_id, False)
        return not self.on(kid_id, transport)

    def online(self, kid_id: str) -> bool:
        """Connected to this process, or (several processes) to another one."""
        return kid_id in self._connections or kid_id in self._elsewhere

    def here(self) -> list[str]:
        """The kids connected to this process."""
        return list(self._connections)

    def seen_elsewhere(self, process: str, kid_ids: list[str], online: bool) -> None:
        for kid_id in kid_ids:
            if online:
                self._elsewhere.setdefault(kid_id, set()).add(process)
            elif process in self._elsewhere.get(kid_id, set()):
                self._elsewhere[kid_id].discard(process)
                if not self._elsewhere[kid_id]:
                    del self._elsewhere[kid_id]

    def process_gone(self, process: str) -> None:
        for kid_id in [k for k, where in self._elsewhere.items() if process in where]:
            self.seen_elsewhere(process, [kid_id], False)

    def count(self) -> int:
        """Kids online now, over any transport (each kid once)."""
        return len(self._connections)

    def on(self, kid_id: str, transport: str) -> bool:
        return any(t == transport for t, _ in self._connections.get(kid_id, ()))

    def kids_on(self, transport: str) -> list[str]:
        return [k for k, held in self._connections.items() if any(t == transport for t, _ in held)]
