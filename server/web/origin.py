"""The one rule for which browser pages may talk to this server, whatever they open.

A request without an Origin header is not from a browser page (the SDK, a car, a test client): the
token decides for it. A browser page may talk to us from this server itself and from the configured
``allowed_origins`` ("*" allows every page). The socket.io handshake, the Scratch-Link WebSocket and
the kid API's CORS headers all ask this rule.
"""

from __future__ import annotations

from collections.abc import Iterable


class OriginRule:
    def __init__(self, allowed: Iterable[str]) -> None:
        self.allowed = frozenset(allowed)

    def configured(self, origin: str) -> bool:
        """An origin other than this server's own, allowed by the config."""
        return "*" in self.allowed or origin in self.allowed

    def allows(self, origin: str | None, scheme: str, host: str) -> bool:
        """May a request with this Origin, reaching us as scheme://host, go on?"""
        if origin is None:
            return True  # not a browser: the token alone decides
        return self.configured(origin) or origin == f"{scheme}://{host}"

    def cors_origin(self, origin: str | None) -> str | None:
        """The Access-Control-Allow-Origin value for a cross-origin request, or None (no CORS headers:
        same-origin requests do not need them, and pages not allowed get none)."""
        return origin if origin and self.configured(origin) else None
