"""The SDK's plain HTTP calls to the classroom (join, catalog, plan): JSON in, JSON out, the server's
refusals as ``Refused`` and an unreachable server as ``ConnectionError``."""

from __future__ import annotations

from typing import Any

import requests

from dojo.errors import ArgumentError, ConnectionError, Refused

HTTP_TIMEOUT_S = 5.0  # join and catalog are small loopback/LAN requests; 5 s means the server is not there


def join(server: str, class_code: str | None, name: str | None, who: str, example: str) -> dict[str, Any]:
    """POST /api/join: {token, kid_id, name, level, car_id}; `who` and `example` word the missing-name error.

    Always a rejoin: a program is its kid's own, so the same name is that kid again (the editors, where
    two kids may type the same name, ask "is that you?" instead: the server's 409 same_name)."""
    if not class_code or not name:
        raise ArgumentError("join_needs_code_and_name", (class_code, name),
                            f"{who} needs your class code and your first name", f"write {example}")
    return post_json(server, "/api/join", {"class_code": class_code, "name": name, "rejoin": True})


def unreachable(server: str, why: object) -> ConnectionError:
    return ConnectionError(f"I can't reach the classroom at {server} — is the server running?",
                           detail=f"{type(why).__name__}: {why}")


def post_json(server: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    try:
        resp = requests.post(server + path, json=body, timeout=HTTP_TIMEOUT_S)
    except requests.RequestException as exc:
        raise unreachable(server, exc) from None
    return json_or_refusal(resp)


def get_json(server: str, path: str) -> dict[str, Any]:
    try:
        resp = requests.get(server + path, timeout=HTTP_TIMEOUT_S)
    except requests.RequestException as exc:
        raise unreachable(server, exc) from None
    return json_or_refusal(resp)


def json_or_refusal(resp: requests.Response) -> dict[str, Any]:
    """The JSON body, or Refused with the server's words ({"error": {rule, message, value, fix}})."""
    try:
        data = resp.json()
    except ValueError:
        data = {}
    if resp.status_code >= 400:
        err = data.get("error", data) if isinstance(data, dict) else {}
        if not isinstance(err, dict):
            err = {"message": str(err)}
        message = err.get("kid_text") or err.get("message") or f"The classroom said no (HTTP {resp.status_code})."
        kid = f"{message} — {err['fix']}" if err.get("fix") and not err.get("kid_text") else message
        detail = f"{err.get('rule', 'http')}: {err.get('message', resp.text[:200])} (value {err.get('value')!r})"
        raise Refused(kid, detail=detail, status="refused", reply=err)
    return data
