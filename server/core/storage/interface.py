"""The storage interface: everything the classroom keeps, as records and one abstract class.

The rest of the server talks only to :class:`Storage`; :mod:`.sqlite` (one classroom, zero set-up) and
:mod:`.postgres` (a district: several server processes on one database) implement it with the same SQL
(:mod:`.sql`). Features add their own tables through :meth:`Storage.migrate` (named, numbered per
feature, applied once, in portable SQL: :mod:`.dialect`) or keep small JSON documents in the key-value
place (:meth:`kv_put` / :meth:`kv_get`), e.g. programs and progress.

Calls are synchronous: a statement is a few to a few hundred microseconds (SQLite in WAL mode, or
PostgreSQL on the same network; docs/storage.md has the measured numbers), so they run on the event
loop; the request log is buffered and flushed in a thread by a background task.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Iterable


@dataclass(frozen=True)
class KidRecord:
    kid_id: str
    class_code: str
    name: str
    level: int


@dataclass(frozen=True)
class ClassRecord:
    code: str
    name: str
    created_at: float


@dataclass(frozen=True)
class CarRecord:
    car_id: str
    kind: str
    last_seen: float


@dataclass(frozen=True)
class AccountRecord:
    """A teacher account (accounts mode): role "admin" or "teacher"; a disabled one cannot log in."""

    username: str
    role: str
    disabled: bool
    created_at: float


@dataclass(frozen=True)
class SessionRecord:
    """A stored teacher session: only the SHA-256 of its id is kept. ``account`` "" is the single-password teacher."""

    id_hash: str
    account: str
    created_at: float
    expires_at: float


@dataclass(frozen=True)
class RequestLogEntry:
    t: float
    kid_id: str
    car_id: str | None
    block: str
    args: dict[str, Any]
    status: str
    detail: str
    duration_s: float


class StorageError(RuntimeError):
    """The database cannot be used as it is: the message names the rule, the value and the fix."""


class SchemaTooNew(StorageError):
    """The database was migrated by a newer MIKRO-DOJO than this one: refusing beats writing into a schema
    this code does not know."""


class DatabaseUnavailable(StorageError, ConnectionError):
    """The database server cannot be reached (or the URL is not one we can open)."""


@dataclass(frozen=True)
class SchemaStatus:
    backend: str  # "sqlite" | "postgresql"
    where: str  # the file, or the URL without its password
    version: int  # the core schema version the database has (0: none yet)
    latest: int  # the newest this code knows
    applied: list[tuple[int, str, float]]  # (version, what, applied_at) of each core migration
    features: list[tuple[str, float]]  # (name, applied_at) of each feature migration


class Storage(ABC):
    """What the classroom keeps. Implementations must survive a restart, and keep nothing in memory that
    another server process on the same database could change (no caches: every call asks the database)."""

    where: str  # the file, or the URL without its password (for messages)
    IntegrityError: type[Exception]  # the driver's: a unique or foreign key rule said no
    Error: type[Exception]  # the driver's base error (a bad statement, a lost connection)

    # teacher
    @abstractmethod
    def teacher_password_hash(self) -> str | None: ...
    @abstractmethod
    def set_teacher_password_hash(self, value: str) -> None: ...

    # classes and kids
    @abstractmethod
    def create_class(self, code: str, name: str) -> ClassRecord: ...
    @abstractmethod
    def get_class(self, code: str) -> ClassRecord | None: ...
    @abstractmethod
    def list_classes(self) -> list[ClassRecord]: ...
    @abstractmethod
    def find_kid_by_name(self, class_code: str, name: str) -> KidRecord | None: ...
    @abstractmethod
    def add_kid(self, kid_id: str, class_code: str, name: str, level: int) -> KidRecord: ...
    @abstractmethod
    def get_kid(self, kid_id: str) -> KidRecord | None: ...
    @abstractmethod
    def kids_in_class(self, class_code: str) -> list[KidRecord]: ...
    @abstractmethod
    def set_kid_level(self, kid_id: str, level: int) -> None: ...
    @abstractmethod
    def delete_kid(self, kid_id: str) -> bool:
        """Remove the kid, their car assignment and every feature row that references them (returns whether
        the kid existed). Their request-log rows and graded attempts stay in the teacher's records."""

    # cars and assignments
    @abstractmethod
    def upsert_car(self, car_id: str, kind: str) -> None: ...
    @abstractmethod
    def list_cars(self) -> list[CarRecord]: ...
    @abstractmethod
    def assign(self, car_id: str, kid_ids: list[str]) -> None: ...
    @abstractmethod
    def kids_of_car(self, car_id: str) -> list[str]: ...
    @abstractmethod
    def car_of_kid(self, kid_id: str) -> str | None: ...

    # request log
    @abstractmethod
    def log_requests(self, entries: Iterable[RequestLogEntry]) -> None: ...
    @abstractmethod
    def recent_requests(self, limit: int = 100, kid_id: str | None = None) -> list[RequestLogEntry]: ...
    @abstractmethod
    def prune_requests(self, max_rows: int, older_than: float) -> int:
        """Delete rows logged before ``older_than`` (epoch seconds), then all but the newest ``max_rows``;
        returns how many went."""

    # key-value documents for features (programs, progress, ...)
    @abstractmethod
    def kv_put(self, namespace: str, key: str, value: Any) -> None: ...
    @abstractmethod
    def kv_get(self, namespace: str, key: str, default: Any = None) -> Any: ...
    @abstractmethod
    def kv_items(self, namespace: str, prefix: str = "") -> list[tuple[str, Any]]: ...
    @abstractmethod
    def kv_delete(self, namespace: str, key: str) -> None: ...

    # --- teacher accounts, stored sessions, who owns which class and car (issue 14) ---------------
    @abstractmethod
    def add_account(self, username: str, password_hash: str, role: str) -> AccountRecord: ...
    @abstractmethod
    def get_account(self, username: str) -> AccountRecord | None: ...
    @abstractmethod
    def account_password_hash(self, username: str) -> str | None: ...
    @abstractmethod
    def list_accounts(self) -> list[AccountRecord]: ...
    @abstractmethod
    def count_accounts(self) -> int: ...
    @abstractmethod
    def set_account_disabled(self, username: str, disabled: bool) -> bool: ...
    @abstractmethod
    def set_account_password_hash(self, username: str, password_hash: str) -> bool: ...
    @abstractmethod
    def delete_account(self, username: str) -> bool:
        """Remove the account, its sessions and its class ownerships (its classes stay, owned by nobody: the
        admin's until given to another teacher)."""

    @abstractmethod
    def put_session(self, record: SessionRecord) -> None: ...
    @abstractmethod
    def get_session(self, id_hash: str) -> SessionRecord | None: ...
    @abstractmethod
    def delete_session(self, id_hash: str) -> bool: ...
    @abstractmethod
    def delete_sessions_of(self, account: str) -> int:
        """Log the account out everywhere; returns how many sessions ended."""
    @abstractmethod
    def delete_expired_sessions(self, now: float) -> int: ...

    @abstractmethod
    def set_class_owner(self, class_code: str, account: str | None) -> None: ...
    @abstractmethod
    def class_owner(self, class_code: str) -> str | None: ...
    @abstractmethod
    def set_car_class(self, car_id: str, class_code: str | None) -> None: ...
    @abstractmethod
    def car_class(self, car_id: str) -> str | None: ...
    @abstractmethod
    def recent_requests_of(self, kid_ids: list[str], limit: int = 100) -> list[RequestLogEntry]:
        """The newest request-log rows of these kids (a teacher's classes), newest first."""

    # extension point for feature tables
    @abstractmethod
    def migrate(self, name: str, statements: str) -> bool:
        """Apply a named migration once, in a transaction (returns True if it ran now). Names:
        "<feature>:<n>", applied in order (n = 1, 2, ...); the statements are portable SQL (.dialect)."""

    @abstractmethod
    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Run one statement (portable SQL, ``?`` placeholders) on a feature's own tables; returns the rows."""

    @abstractmethod
    def check_feature_versions(self) -> None:
        """Raise :class:`SchemaTooNew` if a feature this process migrated has a newer migration in the
        database than it asked for (called once every feature has run its migrations)."""

    @abstractmethod
    def status(self) -> SchemaStatus: ...

    @abstractmethod
    def close(self) -> None: ...
