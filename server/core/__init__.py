"""The classroom domain: who is who, which car runs what, what happened. No aiohttp, no socket.io."""
