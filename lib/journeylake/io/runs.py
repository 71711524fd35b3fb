"""Run bookkeeping in the lake: the run lock and the ``meta.runs`` record.

The lock makes two runs on one lake safe: the second stops at once with a clear message naming the holder,
instead of interleaving MERGEs. It is the file ``<lake>/_run.lock``, created only if absent, which every store
journeylake runs on makes atomic (:func:`journeylake.io.lake.create_exclusive`: ``O_EXCL`` on local disks,
a generation precondition on GCS through Hadoop's ``create(overwrite=false)``), so of two runs started
together exactly one gets it. A lock left behind by a killed run is taken over when its process is gone (same
host) or when it is older than ``[lake].lock_ttl_hours`` (a holder on another machine cannot be checked);
``journeylake unlock --lake URI`` removes it by hand.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pyspark.sql import SparkSession
from pyspark.sql import types as T

from journeylake.io.delta import merge_table, table_path
from journeylake.io.lake import create_exclusive, delete, join_uri, read_text
from journeylake.schemas.columns import column

LOCK_FILE = "_run.lock"
DEFAULT_LOCK_TTL_HOURS = 24.0

RUNS_SCHEMA = T.StructType(
    [
        column("run_id", T.StringType(), False, "Pipeline run"),
        column("stage", T.StringType(), False, "Stage name, or pipeline for the row that records the whole run"),
        column("as_of", T.TimestampType(), False, "As-of time (UTC) of the run: the time the data is processed up to"),
        column("status", T.StringType(), False, "ok or failed"),
        column(
            "message",
            T.StringType(),
            True,
            "Free-text note of the stage: its summary, the error or why it was skipped; null when empty",
        ),
        column("seconds", T.DoubleType(), False, "Wall-clock duration of the stage (or of the whole run), in seconds"),
        column(
            "rows_in",
            T.MapType(T.StringType(), T.LongType()),
            False,
            "Input rows per table or source, as counted by the stage",
        ),
        column(
            "rows_out",
            T.MapType(T.StringType(), T.LongType()),
            False,
            "Output rows per table, as counted by the stage",
        ),
        column(
            "details_json",
            T.StringType(),
            False,
            "Further stage details as JSON (e.g. quarantine counts by reason; versions on the pipeline row)",
        ),
        column("recorded_at", T.TimestampType(), False, "UTC wall-clock time the record was written"),
    ]
)


class RunLockedError(RuntimeError):
    """Another run holds the lake."""


@dataclass(frozen=True)
class LockHolder:
    run_id: str
    pid: int
    host: str
    started_at: datetime | None = None

    def alive(self) -> bool:
        if self.host != socket.gethostname():
            return True  # cannot check another host's process: assume it is running (the TTL decides)
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def expired(self, ttl_hours: float, now: datetime) -> bool:
        return self.started_at is not None and now - self.started_at > timedelta(hours=ttl_hours)


def lock_uri(lake: str) -> str:
    return join_uri(lake, LOCK_FILE)


def _read_holder(spark: SparkSession, uri: str) -> LockHolder | None:
    text = read_text(spark, uri)
    if text is None:
        return None
    try:
        data = json.loads(text)
        started = data.get("started_at")
        return LockHolder(
            run_id=str(data["run_id"]),
            pid=int(data["pid"]),
            host=str(data["host"]),
            started_at=datetime.fromisoformat(started) if started else None,
        )
    except (ValueError, KeyError, TypeError):
        return None


def _utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@contextmanager
def run_lock(spark: SparkSession, lake: str, run_id: str, ttl_hours: float = DEFAULT_LOCK_TTL_HOURS) -> Iterator[None]:
    """Hold the lake's run lock for the duration of the block; raise :class:`RunLockedError` if another run does."""
    uri = lock_uri(lake)
    payload = json.dumps(
        {"run_id": run_id, "pid": os.getpid(), "host": socket.gethostname(), "started_at": _utc_now().isoformat()}
    )
    for _attempt in range(2):
        if create_exclusive(spark, uri, payload):
            break
        holder = _read_holder(spark, uri)
        if holder is not None and holder.alive() and not holder.expired(ttl_hours, _utc_now()):
            raise RunLockedError(
                f"lake {lake} is locked by run {holder.run_id} (pid {holder.pid} on {holder.host}, since "
                f"{holder.started_at or 'unknown'}); wait for it to finish, or run `journeylake unlock --lake {lake}` "
                "if that process is gone"
            )
        delete(spark, uri)  # stale: its process died, or it is older than the TTL; take over
    else:
        raise RunLockedError(f"could not take the run lock {uri}: another run took it first")
    try:
        yield
    finally:
        holder = _read_holder(spark, uri)
        if holder is not None and holder.run_id == run_id and holder.pid == os.getpid():
            delete(spark, uri)


def break_lock(spark: SparkSession, lake: str, force: bool = False) -> tuple[str, bool]:
    """Remove the lake's run lock when its holder is gone (or with ``force``); (message, removed)."""
    uri = lock_uri(lake)
    holder = _read_holder(spark, uri)
    if holder is None and read_text(spark, uri) is None:
        return f"lake {lake} is not locked", True
    if holder is not None and holder.alive() and holder.host == socket.gethostname() and not force:
        return (
            f"run {holder.run_id} (pid {holder.pid}) is still running on this host; not removing {uri} "
            "(use --force if you are sure)",
            False,
        )
    delete(spark, uri)
    who = f" held by run {holder.run_id} (pid {holder.pid} on {holder.host})" if holder else ""
    return f"removed the run lock {uri}{who}", True


def record_stage_runs(spark: SparkSession, lake: str, rows: list[dict[str, object]]) -> None:
    """MERGE the run's stage records into ``meta.runs`` on (run_id, stage); a rerun overwrites its own rows."""
    frame = spark.createDataFrame([tuple(row[f.name] for f in RUNS_SCHEMA.fields) for row in rows], RUNS_SCHEMA)
    from journeylake.schemas.catalog import CATALOG  # the catalog imports this module's schema

    merge_table(spark, frame, table_path(lake, "meta", "runs"), ["run_id", "stage"], spec=CATALOG["meta.runs"])


def stage_row(
    run_id: str,
    stage: str,
    as_of: datetime,
    *,
    failed: bool,
    message: str,
    seconds: float,
    rows_in: dict[str, int],
    rows_out: dict[str, int],
    details: dict[str, object],
    recorded_at: datetime,
) -> dict[str, object]:
    return {
        "run_id": run_id,
        "stage": stage,
        "as_of": as_of,
        "status": "failed" if failed else "ok",
        "message": message or None,
        "seconds": float(seconds),
        "rows_in": {k: int(v) for k, v in rows_in.items()},
        "rows_out": {k: int(v) for k, v in rows_out.items()},
        "details_json": json.dumps(details, sort_keys=True, default=str),
        "recorded_at": recorded_at,
    }
