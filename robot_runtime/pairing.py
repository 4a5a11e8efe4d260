"""`dojo car pair SERVER CODE`: trade the short code the teacher console shows for the car's token.

The HTTP contract (served by server/cars/pairing_api.py, the console's "Add a car"; this is what the car sends):

    POST {server}/api/cars/pair
         {"code": "K7Q2MX", "car_id": "car-7" | null, "kind": "real", "hardware": "gpio", "protocol": 1}
    200  {"car_id": "car-7", "token": "<the car's token>", "server_url": "http://192.168.1.10:8080"}
    4xx  {"error": {"rule": "pair_code_unknown" | "pair_code_expired" | "pair_code_used" | ...,
                    "message": "...", "fix": "..."}}

A code is used once and expires (the server decides both); `car_id` is the name the car already has
(the server may give another, which the car then takes); `server_url` is the address the car should
use from now on (defaults to the one it asked). Codes are typed by people: spaces, dashes and lower
case are forgiven; only A-Z and 2-9 remain (no 0/O, 1/I confusion on the console's side).
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from dataclasses import dataclass

from robot_runtime.protocol import PROTOCOL_VERSION

PAIR_PATH = "/api/cars/pair"
PAIR_TIMEOUT_S = 5.0  # a classroom server on the LAN answers in milliseconds; 5 s is a wrong address
CODE_RE = re.compile(r"^[A-Z0-9]{4,12}$")
CAR_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,31}$")  # protocol.CarId
URL_RE = re.compile(r"^https?://[^\s/]+")


class PairingError(ValueError):
    """Pairing did not work; the message says why and what to do."""


@dataclass(frozen=True)
class Paired:
    car_id: str
    token: str
    server_url: str


def normalise_code(code: str) -> str:
    c = re.sub(r"[\s\-]", "", code).upper()
    if not CODE_RE.match(c):
        raise PairingError(f"{code!r} is not a pairing code — type the 4-12 letters and digits the teacher console "
                           "shows under \"Add a car\"")
    return c


def pair(server: str, code: str, *, car_id: str | None, hardware: str, timeout_s: float = PAIR_TIMEOUT_S) -> Paired:
    server = server.rstrip("/")
    if not URL_RE.match(server):
        raise PairingError(f"{server!r} is not a server address — give it like http://192.168.1.10:8080")
    body = {"code": normalise_code(code), "car_id": car_id, "kind": "sim" if hardware == "sim" else "real",
            "hardware": hardware, "protocol": PROTOCOL_VERSION}
    req = urllib.request.Request(server + PAIR_PATH, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            reply = json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        try:
            err = json.loads(exc.read()).get("error") or {}
        except (ValueError, AttributeError):
            err = {}
        message = err.get("message") or f"the server said HTTP {exc.code}"
        fix = err.get("fix") or "ask the teacher for a new code (codes work once, for a few minutes)"
        raise PairingError(f"{message} — {fix}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise PairingError(f"cannot reach {server}: {getattr(exc, 'reason', exc)} — is the classroom server running, "
                           "and is the car on the same network?") from None
    except ValueError:
        raise PairingError(f"{server} did not answer like a classroom server (not JSON)") from None
    token, new_id = reply.get("token"), reply.get("car_id") or car_id
    url = (reply.get("server_url") or server).rstrip("/")
    if not isinstance(token, str) or not 1 <= len(token) <= 256 or not isinstance(new_id, str) \
            or not CAR_ID_RE.match(new_id) or not URL_RE.match(url):
        raise PairingError(f"{server} answered the pairing without a usable car_id / token / server_url")
    return Paired(new_id, token, url)
