"""Who may do what: the teacher's password and session, kids' signed tokens, cars' pairing tokens.

- Teacher: password hashed with scrypt (stdlib); a login gives an HttpOnly, SameSite=Strict session
  cookie plus a CSRF token that every state-changing request repeats in the ``X-CSRF-Token`` header.
  Sessions live in the Storage (only a hash of the id), so they survive a restart and reach every process.
- Kids: a token ``<payload>.<HMAC-SHA256>`` carrying kid id, class code and issue time; no accounts.
- Cars: a per-car token or a shared pairing secret, compared in constant time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import secrets
import time
from dataclasses import dataclass
from typing import Callable

from curriculum.errors import Problem
from server.core.storage import SessionRecord, Storage

SESSION_COOKIE = "dojo_teacher"
CSRF_HEADER = "X-CSRF-Token"
# scrypt cost: ~50 ms per login on a Raspberry Pi class CPU, far too slow to brute force a copied hash
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
SCRYPT_MAXMEM = 64 * 1024 * 1024
CLOCK_SKEW_S = 300.0  # a token issued "in the future" by up to this much is the server's clock stepping back (NTP)


class AuthError(Problem, PermissionError):
    """Who you are could not be confirmed; the message says what to do."""

    kid_text_default = "Please join the class again."

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(rule, message, fix="join the class again with its code and your name")


# --- teacher password -------------------------------------------------------------------------


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, maxmem=SCRYPT_MAXMEM)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt_hex, digest_hex = stored.split("$")
        if kind != "scrypt":
            return False
        digest = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt_hex), n=int(n), r=int(r), p=int(p),
                                maxmem=SCRYPT_MAXMEM)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(digest.hex(), digest_hex)


# --- teacher sessions -------------------------------------------------------------------------

SINGLE_TEACHER = ""  # the account of a session opened with the single classroom password
ADMIN, TEACHER = "admin", "teacher"  # account roles
# A session this process has checked against the storage is trusted that long before it is read again: the
# /teacher socket asks on every telemetry push, and a logout elsewhere (another process) must still land soon.
SESSION_RECHECK_S = 1.0


@dataclass
class TeacherSession:
    session_id: str
    csrf_token: str
    created_at: float
    expires_at: float
    account: str = SINGLE_TEACHER  # "" = the single-password teacher; else a teacher account's username
    role: str = TEACHER  # what it may reach: server/core/tenancy.py (Scope.of)


def session_hash(session_id: str) -> str:
    """What the storage keeps instead of the session id: a copied database opens no console."""
    return hashlib.sha256(b"teacher-session:" + session_id.encode()).hexdigest()


class SessionStore:
    """Teacher sessions kept in the Storage (only the SHA-256 of each id), so a restart or another server
    process on the same database keeps the teacher logged in. Expiry is wall time (it must mean the same
    after a restart); the CSRF token is an HMAC of the session id, so it needs no storing.

    ``on_end`` listeners hear each session that ends through this process (logout, logout everywhere,
    expiry, an account disabled): its open sockets close. A session ended by another process is noticed
    by :meth:`sweep` (every SESSION_SWEEP_S) or the next :meth:`get` after SESSION_RECHECK_S.
    """

    def __init__(self, storage: Storage, max_age_s: float, key: bytes, *,
                 clock: Callable[[], float] = time.time, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.storage, self.max_age_s, self._key = storage, max_age_s, key
        self.clock, self._monotonic = clock, monotonic
        self._checked: dict[str, tuple[TeacherSession, float]] = {}  # session id -> (session, monotonic() read)
        self.on_end: list[Callable[[str], None]] = []

    def _csrf(self, session_id: str) -> str:
        return _b64(hmac.new(self._key, b"teacher-csrf:" + session_id.encode(), hashlib.sha256).digest())

    def create(self, account: str = SINGLE_TEACHER, role: str = TEACHER) -> TeacherSession:
        now = self.clock()
        session_id = secrets.token_urlsafe(32)
        session = TeacherSession(session_id, self._csrf(session_id), now, now + self.max_age_s, account, role)
        self.storage.put_session(SessionRecord(session_hash(session_id), account, now, session.expires_at))
        self._checked[session_id] = (session, self._monotonic())
        return session

    def get(self, session_id: str | None) -> TeacherSession | None:
        if not session_id or len(session_id) > 128:
            return None
        cached = self._checked.get(session_id)
        if cached is not None and self._monotonic() - cached[1] < SESSION_RECHECK_S:
            session = cached[0]
        else:
            session = self._load(session_id)
            if session is None:
                if cached is not None:
                    self._ended(session_id)  # ended elsewhere (another process, an admin): tell our sockets
                return None
        if self.clock() > session.expires_at:
            self.end(session_id)
            return None
        return session

    def _load(self, session_id: str) -> TeacherSession | None:
        record = self.storage.get_session(session_hash(session_id))
        if record is None:
            return None
        role = TEACHER
        if record.account != SINGLE_TEACHER:
            account = self.storage.get_account(record.account)
            if account is None or account.disabled:
                return None
            role = account.role
        elif self.storage.count_accounts() > 0:
            return None  # accounts mode switched on: the classroom password opens nothing any more
        session = TeacherSession(session_id, self._csrf(session_id), record.created_at, record.expires_at,
                                 record.account, role)
        self._checked[session_id] = (session, self._monotonic())
        return session

    def end(self, session_id: str) -> None:
        self.storage.delete_session(session_hash(session_id))
        self._ended(session_id)

    def end_all(self, account: str) -> int:
        """Log this account out everywhere: every stored session goes; this process's sockets close now,
        other processes' within SESSION_SWEEP_S."""
        count = self.storage.delete_sessions_of(account)
        for session_id, (session, _) in list(self._checked.items()):
            if session.account == account:
                self._ended(session_id)
        return count

    def _ended(self, session_id: str) -> None:
        if self._checked.pop(session_id, None) is not None:
            for listener in self.on_end:
                listener(session_id)

    def sweep(self) -> None:
        """Expired sessions leave the storage; every session this process knows is read again, so one that
        ended elsewhere (logout everywhere, a disabled account, another process) closes its sockets here."""
        self.storage.delete_expired_sessions(self.clock())
        for session_id in list(self._checked):
            if self._load(session_id) is None or self.clock() > self._checked[session_id][0].expires_at:
                self._ended(session_id)


def csrf_ok(session: TeacherSession, header_value: str | None) -> bool:
    return bool(header_value) and hmac.compare_digest(session.csrf_token.encode(), (header_value or "").encode())


# --- kid tokens -------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class KidClaims:
    kid_id: str
    class_code: str
    issued_at: float


class KidTokens:
    """HMAC-signed kid tokens (like itsdangerous, stdlib only)."""

    def __init__(self, key: bytes, max_age_s: float, clock: Callable[[], float] = time.time) -> None:
        self._key, self.max_age_s, self._clock = key, max_age_s, clock

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self._key, b"kid-token:" + payload.encode(), hashlib.sha256).digest())

    def issue(self, kid_id: str, class_code: str) -> str:
        payload = _b64(json.dumps({"k": kid_id, "c": class_code, "t": int(self._clock())},
                                  separators=(",", ":")).encode())
        return f"{payload}.{self._sign(payload)}"

    def verify(self, token: object) -> KidClaims:
        if not isinstance(token, str) or not token or len(token) > 512 or token.count(".") != 1:
            raise AuthError("kid_token", "that is not a kid token — join the class again with its code and your name")
        payload, signature = token.split(".")
        if not hmac.compare_digest(self._sign(payload).encode(), signature.encode()):
            raise AuthError("kid_token_signature",
                            "kid token signature is wrong — join the class again with its code and your name")
        try:
            data = json.loads(_unb64(payload))
            claims = KidClaims(str(data["k"]), str(data["c"]), float(data["t"]))
        except (ValueError, KeyError, TypeError):
            raise AuthError("kid_token", "kid token is damaged — join the class again") from None
        age = self._clock() - claims.issued_at
        if not math.isfinite(claims.issued_at) or age < -CLOCK_SKEW_S:  # NaN, inf or from the future: never valid
            raise AuthError("kid_token_time",
                            "kid token has an impossible issue time — join the class again with its code and your name")
        if age > self.max_age_s:
            raise AuthError("kid_token_expired",
                            "kid token has expired — join the class again with its code and your name")
        return claims


class UrlSigner:
    """Short-lived, purpose-bound URL tokens (``<expiry>.<HMAC>``) for what a browser fetches without
    headers (``<img src>``): the URL names one thing for a few minutes, never carries the kid's token."""

    def __init__(self, key: bytes, clock: Callable[[], float] = time.time) -> None:
        self._key, self._clock = key, clock

    def _mac(self, purpose: str, subject: str, expires: int) -> str:
        return _b64(hmac.new(self._key, f"url:{purpose}:{subject}:{expires}".encode(), hashlib.sha256).digest())

    def sign(self, purpose: str, subject: str, ttl_s: float) -> str:
        expires = int(self._clock() + ttl_s)
        return f"{expires}.{self._mac(purpose, subject, expires)}"

    def check(self, purpose: str, subject: str, value: object) -> bool:
        if not isinstance(value, str) or len(value) > 128 or value.count(".") != 1:
            return False
        expires_text, mac = value.split(".")
        if not expires_text.isdigit() or int(expires_text) < self._clock():
            return False
        return hmac.compare_digest(self._mac(purpose, subject, int(expires_text)).encode(), mac.encode())


# --- car pairing ------------------------------------------------------------------------------


def car_token_ok(car_id: str, token: str, car_tokens: dict[str, str], pairing_secret: str | None) -> bool:
    """A car may join with its own token, or with the class's shared pairing secret."""
    ok = False
    expected = car_tokens.get(car_id)
    if expected is not None:
        ok = hmac.compare_digest(expected.encode(), token.encode())
    if pairing_secret is not None:
        ok = hmac.compare_digest(pairing_secret.encode(), token.encode()) or ok
    return ok
