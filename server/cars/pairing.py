"""Pairing: a car joins the classroom with a short code the teacher's console shows, never a typed token.

    teacher  new_code(car_id=None)          -> PairingCode (6 letters/digits, works once, CODE_TTL_S)
    car      pair(code, car_id, kind, ...)  -> (car_id, token): the car's own token, kept only as a hash
    hub      token_ok(car_id, token)        -> may this car connect to /car

Promises (tests/server/cars/test_pairing.py):

- **Once, and not for long.** A code pairs one car, within CODE_TTL_S of being made. A wrong, expired or
  used code is refused with its rule (``pair_code_unknown`` / ``pair_code_expired`` / ``pair_code_used``),
  a message and the fix.
- **Guessing is slow.** Every try (right or wrong) takes a token from its address's bucket and from one
  bucket for everybody (``pair_rate``, 429); with at most MAX_LIVE_CODES live codes of 32^6 ≈ 10^9,
  a guesser's chance over a code's whole life is about 10^-5.
- **A name is never taken over.** The car keeps the name it asks for when nobody has it; otherwise it gets
  the next free ``car-N``. Only a code the teacher made *for* a name (re-pairing that car) replaces that
  car's token.
- **Kept like a password.** The token is random (256 bits) and stored as its SHA-256 in the storage's
  key-value place (namespace ``car_tokens``); codes likewise (``car_pairing_codes``), so every server
  process sharing the database knows them.

Time is wall time (``expires_at`` is shown to people and shared between processes); the clock is injected.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from curriculum.gate import TokenBucket
from robot_runtime.protocol import SUPPORTED_PROTOCOLS
from server.core.storage import Storage
from server.core.types import ClassroomError

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read off a projector and typed on a car
CODE_LENGTH = 6  # 32^6 ≈ 1.07e9 codes: short to type, far too many to guess at PAIR_TRIES_TOTAL_PER_MIN
CODE_TTL_S = 600.0  # ten minutes: time to walk to the car, log in and type the command; a photo of the
#                    projector is useless by the next lesson
MAX_LIVE_CODES = 20  # a class pairs a handful of cars at once; more live codes only help a guesser
PAIR_TRIES_PER_MIN = 10  # per address: a person mistyping a code a few times never meets it
PAIR_TRIES_TOTAL_PER_MIN = 30  # everybody together: many addresses guessing still get 30 tries a minute
MAX_TRACKED_ADDRESSES = 1024  # the per-address buckets are forgotten past this (memory stays bounded)
TOKEN_BYTES = 32  # 256 random bits per car token
CAR_NAME_PREFIX = "car-"  # a car whose own name is taken gets the next free car-N

CODES_NS = "car_pairing_codes"
TOKENS_NS = "car_tokens"
_CODE_RE = re.compile(rf"^[{CODE_ALPHABET}]{{{CODE_LENGTH}}}$")
_CAR_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,31}$")  # robot_runtime.protocol.CarId


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def normalise_code(code: str) -> str:
    """People type codes: spaces, dashes and lower case are forgiven (as the car's `dojo car pair` does)."""
    return re.sub(r"[\s\-]", "", code).upper()


@dataclass(frozen=True)
class PairingCode:
    code: str
    expires_at: float  # wall time, seconds since the epoch
    car_id: str | None  # the name this code pairs (re-pairing a known car); None: the car's own or a free one


@dataclass(frozen=True)
class CodeStatus:
    state: str  # "waiting" (not used yet), "paired" (a car used it), "expired"
    expires_at: float
    car_id: str | None  # the car it paired (or was made for)
    class_code: str | None = None  # the class the car joins (teacher accounts), None: nobody's


class PairingBook:
    def __init__(self, storage: Storage, known_cars: Callable[[], set[str]], *,
                 clock: Callable[[], float] = time.time) -> None:
        self.storage = storage
        self.known_cars = known_cars  # every car name the classroom knows (configured, seen, connected)
        self.clock = clock
        self._total = TokenBucket(PAIR_TRIES_TOTAL_PER_MIN / 60.0, PAIR_TRIES_TOTAL_PER_MIN, clock)
        self._per_address: dict[str, TokenBucket] = {}

    # --- the teacher's side ------------------------------------------------------------------------

    def new_code(self, car_id: str | None = None, class_code: str | None = None) -> PairingCode:
        """``class_code``: the class the car will belong to (server/core/tenancy.py), None for nobody's."""
        now = self.clock()
        waiting = sorted((r["expires_at"], k) for k, r in self._purge(now) if not r["paired"])
        for _, key in waiting[:max(0, len(waiting) - MAX_LIVE_CODES + 1)]:
            self.storage.kv_delete(CODES_NS, key)  # the oldest unused codes make room
        while True:
            code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
            if self.storage.kv_get(CODES_NS, _sha256(code)) is None:
                break
        expires_at = round(now + CODE_TTL_S, 3)
        self.storage.kv_put(CODES_NS, _sha256(code), {"expires_at": expires_at, "car_id": car_id, "paired": None,
                                                     "class_code": class_code})
        return PairingCode(code, expires_at, car_id)

    def status(self, code: str) -> CodeStatus | None:
        record = self.storage.kv_get(CODES_NS, _sha256(normalise_code(code)))
        if record is None:
            return None
        if record["paired"]:
            return CodeStatus("paired", record["expires_at"], record["paired"], record.get("class_code"))
        state = "expired" if self.clock() > record["expires_at"] else "waiting"
        return CodeStatus(state, record["expires_at"], record["car_id"], record.get("class_code"))

    def _purge(self, now: float) -> list[tuple[str, dict]]:
        """Forget expired codes; the others (key, record), used ones too (kept to say "already used")."""
        live = []
        for key, record in self.storage.kv_items(CODES_NS):
            if now > record["expires_at"]:
                self.storage.kv_delete(CODES_NS, key)
            else:
                live.append((key, record))
        return live

    # --- the car's side ----------------------------------------------------------------------------

    def pair(self, code: str, car_id: str | None, kind: str, hardware: str, protocol: int, address: str) -> tuple[str, str]:
        """(car_id, token) for a right code, or a ClassroomError naming the rule and the fix."""
        self._rate_limit(address)
        if protocol not in SUPPORTED_PROTOCOLS:
            raise ClassroomError("protocol_version", f"the car speaks protocol {protocol}, this server "
                                 f"{', '.join(map(str, SUPPORTED_PROTOCOLS))}", protocol,
                                 "update the car (pip install -U 'mikro-dojo[car]') or the server to the same version")
        code = normalise_code(code)
        key = _sha256(code) if _CODE_RE.match(code) else None
        record = self.storage.kv_get(CODES_NS, key) if key else None
        if record is None:
            raise ClassroomError("pair_code_unknown", f"no car can pair with the code {code}", code,
                                 "check the letters on the teacher console's \"Add a car\" (codes have no 0, O, 1 "
                                 "or I), or press \"Add a car\" for a new code", status=404)
        if record["paired"]:
            raise ClassroomError("pair_code_used", f"the code {code} was already used (by {record['paired']})", code,
                                 "each code pairs one car: press \"Add a car\" again for a new code", status=409)
        if self.clock() > record["expires_at"]:
            raise ClassroomError("pair_code_expired", f"the code {code} has expired (codes work for "
                                 f"{CODE_TTL_S / 60:g} minutes)", code,
                                 "press \"Add a car\" again for a new code", status=409)
        name = record["car_id"] or self._free_name(car_id)
        token = secrets.token_urlsafe(TOKEN_BYTES)
        # the code is spent before anything else can fail after it: it never pairs twice
        self.storage.kv_put(CODES_NS, key, {**record, "paired": name})
        self.storage.kv_put(TOKENS_NS, name, {"sha256": _sha256(token), "paired_at": self.clock(), "kind": kind,
                                              "hardware": hardware, "protocol": protocol})
        self.storage.upsert_car(name, kind)  # it shows in the console at once, as not connected yet
        if record.get("class_code"):  # the class whose teacher made the code owns the car
            self.storage.set_car_class(name, record["class_code"])
        return name, token

    def _free_name(self, wanted: str | None) -> str:
        taken = self.known_cars() | {k for k, _ in self.storage.kv_items(TOKENS_NS)}
        if wanted and _CAR_ID_RE.match(wanted) and wanted not in taken:
            return wanted
        n = 1
        while f"{CAR_NAME_PREFIX}{n}" in taken:
            n += 1
        return f"{CAR_NAME_PREFIX}{n}"

    def _rate_limit(self, address: str) -> None:
        bucket = self._per_address.get(address)
        if bucket is None:
            if len(self._per_address) >= MAX_TRACKED_ADDRESSES:
                self._per_address.clear()
            bucket = self._per_address[address] = TokenBucket(PAIR_TRIES_PER_MIN / 60.0, PAIR_TRIES_PER_MIN, self.clock)
        if not bucket.take() or not self._total.take():
            raise ClassroomError("pair_rate", f"too many pairing tries (more than {PAIR_TRIES_PER_MIN} a minute from "
                                 f"{address}, or {PAIR_TRIES_TOTAL_PER_MIN} from everybody)", address,
                                 "wait a minute, then type the code again", status=429)

    # --- the hub's side ----------------------------------------------------------------------------

    def token_ok(self, car_id: str, token: str) -> bool:
        record = self.storage.kv_get(TOKENS_NS, car_id)
        return bool(record) and hmac.compare_digest(record["sha256"], _sha256(token))

