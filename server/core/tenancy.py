"""Teachers and classes: who may see and control which class and which car (issue 14).

Two modes, chosen by the data, not by a flag:

- **single-password mode** (no teacher account exists; the laptop default, `dojo demo`): one classroom
  password, and whoever has it sees every class and every car — today's flow.
- **accounts mode** (at least one account, made with `dojo teacher add NAME` or by an admin): each teacher
  logs in with a username; a class belongs to the teacher who created it; a car belongs to one class
  (given to it when the class's teacher pairs it, or by an admin). A teacher sees and controls only their
  classes, the kids in them and the cars of them. An ``admin`` account sees and controls everything, and
  manages the accounts. A class or car owned by nobody (made before accounts mode) is the admin's.

The rules are plain functions of a :class:`Scope`, so every HTTP route and every socket push asks the same
question the same way. Ownership is read through a small cache (``OWNERSHIP_CACHE_S``): the /teacher
socket asks for every telemetry message.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Callable

from server.core.auth import ADMIN, SINGLE_TEACHER, TEACHER, hash_password, verify_password
from server.core.storage import AccountRecord, Storage
from server.core.types import ClassroomError

ROLES = (ADMIN, TEACHER)
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,31}$")
MIN_PASSWORD = 8  # a teacher account guards kids' data: longer than the classroom password's 4
# Ownership read from the storage is trusted this long: a move made by another process shows within it.
OWNERSHIP_CACHE_S = 1.0
# Verified against when the username is unknown, so a wrong name takes as long as a wrong password.
_DUMMY_HASH = hash_password("no such teacher account", salt=b"\0" * 16)


@dataclass(frozen=True)
class Scope:
    """What one logged-in teacher may reach: everything, or the classes of one account."""

    account: str
    everything: bool

    @staticmethod
    def of(account: str, role: str) -> "Scope":
        return Scope(account, account == SINGLE_TEACHER or role == ADMIN)


EVERYTHING = Scope(SINGLE_TEACHER, True)


def check_username(username: object) -> str:
    name = username.strip().lower() if isinstance(username, str) else ""
    if not USERNAME_RE.match(name):
        raise ClassroomError("teacher_username", f"a username is 2 to 32 letters, digits, '.', '_' or '-', starting "
                             f"with a letter or digit (got {username!r})", username, "pick a name like 'ana' or "
                             "'m.jones'")
    return name


def check_password(password: object) -> str:
    if not isinstance(password, str) or not MIN_PASSWORD <= len(password) <= 200:
        raise ClassroomError("teacher_password_length", f"a teacher password is {MIN_PASSWORD} to 200 characters "
                             f"(got {len(password) if isinstance(password, str) else 0})", None,
                             f"choose a password of at least {MIN_PASSWORD} characters")
    return password


class Tenancy:
    """Accounts and ownership over the Storage, with the checks every route and push uses."""

    def __init__(self, storage: Storage, clock: Callable[[], float] = time.monotonic) -> None:
        self.storage, self._clock = storage, clock
        self._cache: dict[tuple[str, str], tuple[object, float]] = {}

    def _cached(self, key: tuple[str, str], read: Callable[[], object]) -> object:
        hit = self._cache.get(key)
        now = self._clock()
        if hit is not None and now - hit[1] < OWNERSHIP_CACHE_S:
            return hit[0]
        value = read()
        self._cache[key] = (value, now)
        return value

    # --- the mode -------------------------------------------------------------------------

    def accounts_on(self) -> bool:
        return bool(self._cached(("mode", ""), lambda: self.storage.count_accounts() > 0))

    # --- accounts -------------------------------------------------------------------------

    def add_account(self, username: object, password: object, role: str = TEACHER) -> AccountRecord:
        name, password = check_username(username), check_password(password)
        if role not in ROLES:
            raise ClassroomError("teacher_role", f"a role is one of {', '.join(ROLES)} (got {role!r})", role,
                                 "use role 'teacher', or 'admin' for someone who manages the accounts")
        if self.storage.get_account(name) is not None:
            raise ClassroomError("teacher_username_taken", f"there is already a teacher account {name!r}", name,
                                 "pick another username, or remove the old account first", status=409)
        record = self.storage.add_account(name, hash_password(password), role)
        self._cache.pop(("mode", ""), None)
        return record

    def account(self, username: str) -> AccountRecord:
        record = self.storage.get_account(username)
        if record is None:
            raise ClassroomError("teacher_account", f"there is no teacher account {username!r}", username,
                                 "`dojo teacher list` (or GET /api/admin/teachers) lists them", status=404)
        return record

    def verify(self, username: object, password: str) -> AccountRecord | None:
        """The account if the username and password are right and it is not disabled (slow: scrypt)."""
        name = username.strip().lower() if isinstance(username, str) else ""
        stored = self.storage.account_password_hash(name) if USERNAME_RE.match(name) else None
        ok = verify_password(password, stored or _DUMMY_HASH)
        record = self.storage.get_account(name) if ok and stored else None
        return record if record is not None and not record.disabled else None

    def set_disabled(self, username: str, disabled: bool) -> AccountRecord:
        self.account(username)
        self.storage.set_account_disabled(username, disabled)
        return self.account(username)

    def remove_account(self, username: str) -> None:
        self.account(username)
        self.storage.delete_account(username)
        self._cache.clear()

    # --- ownership ------------------------------------------------------------------------

    def class_owner(self, class_code: str) -> str | None:
        return self._cached(("class", class_code), lambda: self.storage.class_owner(class_code))  # type: ignore[return-value]

    def set_class_owner(self, class_code: str, account: str | None) -> None:
        self.storage.set_class_owner(class_code, account)
        self._cache.pop(("class", class_code), None)

    def car_class(self, car_id: str) -> str | None:
        hit = self._cached(("car", car_id), lambda: self.storage.car_class(car_id))
        if hit is None:  # not cached: a car paired a moment ago (PairingBook writes the storage) shows at once
            self._cache.pop(("car", car_id), None)
        return hit  # type: ignore[return-value]

    def set_car_class(self, car_id: str, class_code: str | None) -> None:
        self.storage.set_car_class(car_id, class_code)
        self._cache.pop(("car", car_id), None)

    # --- the checks -----------------------------------------------------------------------

    def owns_class(self, scope: Scope, class_code: str) -> bool:
        return scope.everything or (bool(scope.account) and self.class_owner(class_code) == scope.account)

    def owns_car(self, scope: Scope, car_id: str) -> bool:
        if scope.everything:
            return True
        code = self.car_class(car_id)
        return code is not None and self.owns_class(scope, code)

    def class_codes(self, scope: Scope) -> list[str]:
        return [c.code for c in self.storage.list_classes() if self.owns_class(scope, c.code)]

    def car_may_serve(self, car_id: str, class_code: str) -> bool:
        """May this car be handed to a kid of this class? In accounts mode only a car of that class is."""
        owner_class = self.car_class(car_id)
        if owner_class is not None:
            return owner_class == class_code
        return not self.accounts_on()
