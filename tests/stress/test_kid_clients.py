"""The soak's kid clients give every request they make a final answer, also when the link breaks under a
send: a Scratch write whose socket is already closing (the server was just killed) is the client's own
`link_lost`, and a write refused by its JSON-RPC error reply is the server's answer — neither may be left
for the ledger to count as lost 200 s later."""

from __future__ import annotations

import random

import aiohttp
import pytest

from stress.kids import LinkLost, ScratchKid
from stress.ledger import Ledger


class ClosingSocket:
    closed = False  # aiohttp says closed only once the close handshake is over

    async def send_str(self, data: str) -> None:
        raise aiohttp.ClientConnectionResetError("Cannot write to closing transport")


def scratch_kid(ledger: Ledger) -> ScratchKid:
    kid = ScratchKid("Skid", "http://127.0.0.1:1", "SOAK", [], ledger, None, random.Random(1))  # type: ignore[arg-type]
    kid.ws = ClosingSocket()  # type: ignore[assignment]
    return kid


async def test_a_scratch_write_on_a_closing_socket_is_answered_link_lost() -> None:
    ledger = Ledger()
    kid = scratch_kid(ledger)
    with pytest.raises(LinkLost):
        await kid.write({"block": "move_forward", "args": {"distance": 10}}, "block")
    (entry,) = ledger.entries.values()
    assert entry.answered_by == "link_lost" and entry.answers == 1
    assert ledger.summary(now=entry.t_sent + 1000)["lost"] == 0


async def test_a_scratch_write_refused_by_its_rpc_reply_is_the_servers_answer() -> None:
    ledger = Ledger()
    kid = scratch_kid(ledger)

    async def refused(method: str, params: dict) -> None:
        raise RuntimeError("write: {'code': -32000, 'message': 'not connected to a peripheral'}")

    kid._rpc = refused  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        await kid.write({"block": "move_forward", "args": {"distance": 10}}, "block")
    (entry,) = ledger.entries.values()
    assert (entry.answered_by, entry.status) == ("server", "rpc_error")
