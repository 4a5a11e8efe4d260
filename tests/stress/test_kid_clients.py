"""The soak's kid clients give every request they make a final answer, also when the link breaks under a
send: a Scratch write whose socket is already closing (the server was just killed), or whose reader has
ended on the server's CLOSE frame, is the client's own `link_lost`, and a write refused by its JSON-RPC error reply is the server's answer — neither may be left
for the ledger to count as lost 200 s later."""

from __future__ import annotations

import asyncio
import random

import aiohttp
import pytest

from stress.kids import LinkLost, ScratchKid
from stress.ledger import Ledger


class ClosingSocket:
    closed = False  # aiohttp says closed only once the close handshake is over

    async def send_str(self, data: str) -> None:
        raise aiohttp.ClientConnectionResetError("Cannot write to closing transport")


class ClosedByServer:
    """The server's CLOSE frame was read (the reader ended), the client's own close not sent yet."""

    closed = False

    async def send_str(self, data: str) -> None:
        pass  # the bytes go out; nobody will read a reply


async def reading() -> None:
    await asyncio.sleep(3600)


def scratch_kid(ledger: Ledger, ws: object | None = None) -> ScratchKid:
    kid = ScratchKid("Skid", "http://127.0.0.1:1", "SOAK", [], ledger, None, random.Random(1))  # type: ignore[arg-type]
    kid.ws = ws or ClosingSocket()  # type: ignore[assignment]
    kid.reader = asyncio.ensure_future(reading())
    return kid


async def test_a_scratch_write_on_a_closing_socket_is_answered_link_lost() -> None:
    ledger = Ledger()
    kid = scratch_kid(ledger)
    with pytest.raises(LinkLost):
        await kid.write({"block": "move_forward", "args": {"distance": 10}}, "block")
    (entry,) = ledger.entries.values()
    assert entry.answered_by == "link_lost" and entry.answers == 1
    kid.reader.cancel()
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
    kid.reader.cancel()


async def test_a_scratch_write_after_the_server_closed_the_socket_is_answered_link_lost(monkeypatch) -> None:
    monkeypatch.setattr("stress.kids.ANSWER_TIMEOUT_S", 1.0)  # before: the write waited this long, then was lost
    ledger = Ledger()
    kid = scratch_kid(ledger, ClosedByServer())
    kid.reader.cancel()
    await asyncio.gather(kid.reader, return_exceptions=True)  # the reader saw the CLOSE frame and ended
    with pytest.raises(LinkLost):
        await kid.write({"block": "move_forward", "args": {"distance": 10}}, "block")
    (entry,) = ledger.entries.values()
    assert entry.answered_by == "link_lost"
