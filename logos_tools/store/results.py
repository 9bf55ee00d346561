"""The SQLite results store: every tool call, with its inputs, model, parameters, outputs and timings.

A stored result gets a short id (``r-`` and 12 hex digits) that later calls, MCP resources and the
``logos results`` commands use to refer to it. The file lives at ``Settings.store_path``
(``$LOGOS_HOME/results.sqlite3``), uses WAL journaling, and is safe to share between threads and
processes: every operation opens its own connection, and writes take SQLite's write lock up front
(``BEGIN IMMEDIATE``) so a read-modify-write never loses another process's update.

Values are stored as strict JSON. Pydantic models are dumped with ``model_dump(mode="json")``,
objects with a ``to_dict()`` method (the grammar layer's dataclasses) through it, tuples and sets as
lists, paths as strings; NaN and infinities become ``null`` because JSON cannot hold them.
"""

from __future__ import annotations

import builtins
import dataclasses
import enum
import json
import logging
import math
import re
import secrets
import sqlite3
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime, timezone
from pathlib import Path, PurePath
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from logos_tools.errors import InputError, LogosError, ResultNotFoundError
from logos_tools.settings import Settings

logger = logging.getLogger(__name__)

ResultStatus = Literal["complete", "partial", "running", "failed"]
STATUSES: tuple[str, ...] = get_args(ResultStatus)
RESULT_ID_PATTERN = re.compile(r"^r-[0-9a-f]{12}$")
MAX_LIST_LIMIT = 1000
_BUSY_TIMEOUT_S = 30.0
# Store messages reach CLI users, MCP agents and LangChain agents alike: name every way to list.
LIST_HINT = "`logos results list`, or the logos://results resource"


class StoredResult(BaseModel):
    """One recorded tool call, as read back from the store."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="Result id, 'r-' and 12 hex digits.")
    tool: str = Field(description="Name of the tool that produced it, e.g. 'design_ligands'.")
    created_at: datetime = Field(description="When the call was recorded (UTC).")
    updated_at: datetime = Field(description="When the record last changed (UTC).")
    status: ResultStatus = Field(description="complete, partial (a budget ran out), running or failed.")
    inputs: dict[str, Any] = Field(description="The tool's arguments.")
    model: dict[str, Any] = Field(description="The model used: name, sha256, is_demo, backend.")
    parameters: dict[str, Any] = Field(description="Sampling parameters and seed.")
    outputs: dict[str, Any] = Field(description="The tool's result.")
    timings: dict[str, Any] = Field(description="Wall-clock timings in seconds.")
    error: str | None = Field(default=None, description="Why the call failed or stopped early.")
    parent_id: str | None = Field(default=None, description="The result this one continues or refines.")


class StoredResultSummary(BaseModel):
    """One line of ``ResultStore.list``: enough to pick a result without loading its outputs."""

    model_config = ConfigDict(extra="forbid")

    id: str
    tool: str
    created_at: datetime
    status: ResultStatus
    model_name: str | None = Field(default=None, description="The model's name, when recorded.")
    parent_id: str | None = None
    error: str | None = None


def new_result_id() -> str:
    """A fresh random result id: ``r-`` and 12 lowercase hex digits (48 random bits)."""
    return "r-" + secrets.token_hex(6)


def check_result_id(result_id: str, what: str = "result id") -> str:
    """Return ``result_id`` without surrounding whitespace if it has the result id format.

    Raises:
        InputError: it is not a string of the form ``r-`` followed by 12 lowercase hex digits.
    """
    if not isinstance(result_id, str):
        raise InputError(
            f"The {what} must be a string like 'r-3f9a0c12ab45', got {type(result_id).__name__}."
        )
    stripped = result_id.strip()
    if not RESULT_ID_PATTERN.match(stripped):
        shown = stripped if len(stripped) <= 40 else stripped[:37] + "..."
        raise InputError(
            f"The {what} {shown!r} is not a result id: ids are 'r-' followed by 12 lowercase hex digits, "
            "e.g. 'r-3f9a0c12ab45'. Copy the id from the tool's answer, or list the stored results "
            f"({LIST_HINT})."
        )
    return stripped


def to_jsonable(value: Any, where: str = "value") -> Any:
    """Convert ``value`` to plain JSON data (dicts with string keys, lists, str, int, float, bool, None).

    ``where`` names the value in error messages (e.g. ``outputs['molecules'][3]``).

    Raises:
        InputError: the value (or something inside it) has a type JSON cannot represent.
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        # JSON has no NaN or infinity; null keeps every export readable by strict parsers.
        return float(value) if math.isfinite(value) else None
    if isinstance(value, BaseModel):
        return to_jsonable(value.model_dump(mode="json"), where)
    if isinstance(value, enum.Enum):
        return to_jsonable(value.value, where)
    if isinstance(value, Mapping):
        converted: dict[str, Any] = {}
        for key, item in value.items():
            if isinstance(key, bool) or not isinstance(key, (str, int)):
                raise InputError(
                    f"{where} has the key {key!r} of type {type(key).__name__}; JSON object keys must be "
                    "strings. Use string keys."
                )
            converted[str(key)] = to_jsonable(item, f"{where}[{key!r}]")
        return converted
    if isinstance(value, (list, tuple)):
        return [to_jsonable(item, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, (set, frozenset)):
        items = [to_jsonable(item, f"{where}[{i}]") for i, item in enumerate(value)]
        return sorted(items, key=lambda item: json.dumps(item, sort_keys=True))
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        return to_jsonable(to_dict(), where)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_jsonable(dataclasses.asdict(value), where)
    tolist = getattr(value, "tolist", None)  # numpy arrays and scalars, without importing numpy
    if callable(tolist):
        return to_jsonable(tolist(), where)
    raise InputError(
        f"{where} is a {type(value).__name__}, which cannot be stored as JSON. Store plain data "
        "(str, numbers, bool, None, lists, dicts) or a pydantic model."
    )


def _dumps(value: Mapping[str, Any], where: str) -> str:
    if not isinstance(value, (Mapping, BaseModel)):
        raise InputError(
            f"{where} must be a mapping (a dict or a pydantic model), got {type(value).__name__}. "
            "Wrap the value in a dict, e.g. {'value': ...}."
        )
    return json.dumps(to_jsonable(value, where), ensure_ascii=False, allow_nan=False)


def _check_status(status: str) -> str:
    if status not in STATUSES:
        raise InputError(f"Result status {status!r} is not a status. Use one of: {', '.join(STATUSES)}.")
    return status


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


# Migration i takes the schema from version i to i + 1; append new steps, never edit old ones.
Migration = Callable[[sqlite3.Connection], None]


def _create_results_table(conn: sqlite3.Connection) -> None:
    conn.execute(
        """
        CREATE TABLE results (
            id TEXT PRIMARY KEY,
            tool TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            status TEXT NOT NULL,
            inputs TEXT NOT NULL,
            model TEXT NOT NULL,
            parameters TEXT NOT NULL,
            outputs TEXT NOT NULL,
            timings TEXT NOT NULL,
            error TEXT,
            parent_id TEXT
        )
        """
    )
    conn.execute("CREATE INDEX results_by_time ON results (created_at)")
    conn.execute("CREATE INDEX results_by_tool ON results (tool, created_at)")
    conn.execute("CREATE INDEX results_by_parent ON results (parent_id)")


MIGRATIONS: tuple[Migration, ...] = (_create_results_table,)
SCHEMA_VERSION = len(MIGRATIONS)

_COLUMNS = (
    "id, tool, created_at, updated_at, status, inputs, model, parameters, outputs, timings, error, parent_id"
)


class ResultStore:
    """Record tool calls in a SQLite file and read them back by id.

    Creating a store creates the file and its folder if needed and brings the schema up to date.

    Raises:
        LogosError: the file is not a SQLite database, or was written by a newer logos-tools.
    """

    def __init__(self, path: PurePath | str) -> None:
        self.path = Path(path).expanduser()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._migrate()

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> ResultStore:
        """The store at ``settings.store_path`` (``Settings.from_env()`` when not given).

        Raises:
            InputError: a ``LOGOS_*`` variable is invalid.
            LogosError: the store file cannot be used (see the class).
        """
        return cls((settings or Settings.from_env()).store_path)

    def __repr__(self) -> str:
        return f"ResultStore({str(self.path)!r})"

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        # One connection per operation: sqlite3 connections must not be shared across threads,
        # and short-lived connections let other processes write in between.
        try:
            conn = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT_S, isolation_level=None)
        except sqlite3.Error as exc:
            raise self._file_error(exc) from exc
        try:
            conn.row_factory = sqlite3.Row
            yield conn
        except sqlite3.DatabaseError as exc:
            raise self._file_error(exc) from exc
        finally:
            conn.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _file_error(self, exc: sqlite3.Error) -> LogosError:
        if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
            return LogosError(
                f"The results store {self.path} stayed locked by another process for more than "
                f"{_BUSY_TIMEOUT_S:.0f} s ({exc}). Retry, or stop the process that holds it."
            )
        return LogosError(
            f"The results store {self.path} cannot be used: {exc}. If the file is damaged, move it "
            "aside (results recorded in it are then no longer listed) and a new store is created."
        )

    def _migrate(self) -> None:
        with self._connect() as conn:
            # journal_mode cannot change inside a transaction; WAL persists in the file.
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("BEGIN IMMEDIATE")
            try:
                version = int(conn.execute("PRAGMA user_version").fetchone()[0])
                if version > SCHEMA_VERSION:
                    raise LogosError(
                        f"The results store {self.path} has schema version {version}, newer than this "
                        f"logos-tools understands ({SCHEMA_VERSION}). Upgrade logos-tools, or point "
                        "LOGOS_HOME at another folder."
                    )
                for step in range(version, SCHEMA_VERSION):
                    logger.info("migrating results store %s to schema version %d", self.path, step + 1)
                    MIGRATIONS[step](conn)
                    conn.execute(f"PRAGMA user_version = {step + 1}")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def schema_version(self) -> int:
        """The schema version recorded in the file (``PRAGMA user_version``)."""
        with self._connect() as conn:
            return int(conn.execute("PRAGMA user_version").fetchone()[0])

    def record(
        self,
        tool: str,
        *,
        inputs: Mapping[str, Any],
        model: Mapping[str, Any],
        parameters: Mapping[str, Any],
        outputs: Mapping[str, Any],
        timings: Mapping[str, Any],
        status: str = "complete",
        parent_id: str | None = None,
        error: str | None = None,
    ) -> StoredResult:
        """Store one tool call and return it with its new id.

        Mappings may hold pydantic models; see the module docstring for how values become JSON.

        Raises:
            InputError: an empty tool name, an unknown status, a value JSON cannot hold, or a
                malformed ``parent_id``.
            ResultNotFoundError: ``parent_id`` names no stored result.
            LogosError: the store file cannot be written.
        """
        if not isinstance(tool, str) or not tool.strip():
            raise InputError(f"Tool name {tool!r} is empty. Pass the tool's name, e.g. 'design_ligands'.")
        _check_status(status)
        row = {
            "tool": tool.strip(),
            "status": status,
            "inputs": _dumps(inputs, "inputs"),
            "model": _dumps(model, "model"),
            "parameters": _dumps(parameters, "parameters"),
            "outputs": _dumps(outputs, "outputs"),
            "timings": _dumps(timings, "timings"),
            "error": error,
            "parent_id": check_result_id(parent_id, "parent id") if parent_id is not None else None,
        }
        with self._write() as conn:
            if row["parent_id"] is not None:
                self._require(conn, row["parent_id"])
            now = _now()
            while True:  # a collision of 48 random bits is unlikely, not impossible
                result_id = new_result_id()
                if conn.execute("SELECT 1 FROM results WHERE id = ?", (result_id,)).fetchone() is None:
                    break
            conn.execute(
                f"INSERT INTO results ({_COLUMNS}) VALUES "
                "(:id, :tool, :created, :created, :status, :inputs, :model, :parameters, :outputs, "
                ":timings, :error, :parent_id)",
                {**row, "id": result_id, "created": now},
            )
            stored = self._require(conn, result_id)
        logger.debug("recorded %s result %s (%s)", tool, result_id, status)
        return stored

    def update(
        self,
        result_id: str,
        *,
        outputs: Mapping[str, Any] | None = None,
        status: str | None = None,
        timings: Mapping[str, Any] | None = None,
        error: str | None = None,
    ) -> StoredResult:
        """Replace the given fields of a stored result (a ``None`` argument leaves the field as it is).

        Used by long jobs: record with status ``running``, then update with the outputs so far.

        Raises:
            InputError: a malformed id, an unknown status, or a value JSON cannot hold.
            ResultNotFoundError: no stored result has that id.
            LogosError: the store file cannot be written.
        """
        result_id = check_result_id(result_id)
        changes: dict[str, Any] = {}
        if outputs is not None:
            changes["outputs"] = _dumps(outputs, "outputs")
        if timings is not None:
            changes["timings"] = _dumps(timings, "timings")
        if status is not None:
            changes["status"] = _check_status(status)
        if error is not None:
            changes["error"] = error
        with self._write() as conn:
            self._require(conn, result_id)
            changes["updated_at"] = _now()
            assignments = ", ".join(f"{column} = :{column}" for column in changes)
            conn.execute(f"UPDATE results SET {assignments} WHERE id = :id", {**changes, "id": result_id})
            return self._require(conn, result_id)

    def get(self, result_id: str) -> StoredResult:
        """The stored result with this id.

        Raises:
            InputError: the id does not have the result id format.
            ResultNotFoundError: no stored result has that id.
        """
        result_id = check_result_id(result_id)
        with self._connect() as conn:
            return self._require(conn, result_id)

    def list(self, limit: int = 20, tool: str | None = None) -> builtins.list[StoredResultSummary]:
        """The most recent results first, optionally only those of one tool.

        Raises:
            InputError: ``limit`` is not between 1 and 1000.
        """
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIST_LIMIT:
            raise InputError(
                f"limit={limit!r} is out of range: list between 1 and {MAX_LIST_LIMIT} results. "
                "Pass e.g. limit=20."
            )
        query = "SELECT id, tool, created_at, status, model, parent_id, error FROM results"
        args: tuple[Any, ...] = ()
        if tool is not None:
            query += " WHERE tool = ?"
            args = (tool,)
        query += " ORDER BY created_at DESC, rowid DESC LIMIT ?"
        with self._connect() as conn:
            rows = conn.execute(query, (*args, limit)).fetchall()
        summaries = []
        for row in rows:
            name = json.loads(row["model"]).get("name")
            summaries.append(
                StoredResultSummary(
                    id=row["id"],
                    tool=row["tool"],
                    created_at=row["created_at"],
                    status=row["status"],
                    model_name=name if isinstance(name, str) else None,
                    parent_id=row["parent_id"],
                    error=row["error"],
                )
            )
        return summaries

    def delete(self, result_id: str) -> None:
        """Remove a stored result. Results that name it as parent keep the (now dangling) parent id.

        Raises:
            InputError: the id does not have the result id format.
            ResultNotFoundError: no stored result has that id.
        """
        result_id = check_result_id(result_id)
        with self._write() as conn:
            self._require(conn, result_id)
            conn.execute("DELETE FROM results WHERE id = ?", (result_id,))
        logger.debug("deleted result %s", result_id)

    def _require(self, conn: sqlite3.Connection, result_id: str) -> StoredResult:
        row = conn.execute(f"SELECT {_COLUMNS} FROM results WHERE id = ?", (result_id,)).fetchone()
        if row is None:
            raise ResultNotFoundError(
                f"No stored result has the id {result_id!r} in {self.path}. List the stored results "
                f"({LIST_HINT}); results recorded under another LOGOS_HOME are not seen."
            )
        return StoredResult(
            id=row["id"],
            tool=row["tool"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            status=row["status"],
            inputs=json.loads(row["inputs"]),
            model=json.loads(row["model"]),
            parameters=json.loads(row["parameters"]),
            outputs=json.loads(row["outputs"]),
            timings=json.loads(row["timings"]),
            error=row["error"],
            parent_id=row["parent_id"],
        )
