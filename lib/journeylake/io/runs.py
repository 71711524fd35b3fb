"""Run bookkeeping in the lake: the run lock and the ``meta.runs`` record.

The lock makes two runs on one lake safe: the second fails at once with a clear
message naming the holder, instead of interleaving MERGEs. It is a file created
with O_CREAT|O_EXCL (atomic on local and POSIX shared filesystems); on object
stores, where that is not atomic, Delta's optimistic concurrency still rejects
conflicting commits and the error is surfaced by the job. A lock left by a
process that died on this host (SIGKILL, OOM) is taken over, so a crashed run
never blocks its rerun.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pyspark.sql import SparkSession
from pyspark.sql import types as T

from journeylake.io.delta import merge_table, table_path

LOCK_FILE = "_run.lock"

RUNS_SCHEMA = T.StructType(
    [
        T.StructField("run_id", T.StringType(), False),
        T.StructField("stage", T.StringType(), False),  # a stage name, or "pipeline" for the whole run
        T.StructField("as_of", T.TimestampType(), False),
        T.StructField("status", T.StringType(), False),  # ok | failed
        T.StructField("message", T.StringType(), True),
        T.StructField("seconds", T.DoubleType(), False),
        T.StructField("rows_in", T.MapType(T.StringType(), T.LongType()), False),
        T.StructField("rows_out", T.MapType(T.StringType(), T.LongType()), False),
        T.StructField("details_json", T.StringType(), False),
        T.StructField("recorded_at", T.TimestampType(), False),
    ]
)


class RunLockedError(RuntimeError):
    """Another run holds the lake."""


@dataclass(frozen=True)
class LockHolder:
    run_id: str
    pid: int
    host: str

    def alive(self) -> bool:
        if self.host != socket.gethostname():
            return True  # cannot check another host's process: assume it is running
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


def _read_holder(lock_path: Path) -> LockHolder | None:
    try:
        data = json.loads(lock_path.read_text())
        return LockHolder(run_id=str(data["run_id"]), pid=int(data["pid"]), host=str(data["host"]))
    except (FileNotFoundError, ValueError, KeyError):
        return None


@contextmanager
def run_lock(lake: str | Path, run_id: str) -> Iterator[None]:
    """Hold the lake's run lock for the duration of the block."""
    lake_dir = Path(lake)
    lake_dir.mkdir(parents=True, exist_ok=True)
    lock_path = lake_dir / LOCK_FILE
    payload = json.dumps({"run_id": run_id, "pid": os.getpid(), "host": socket.gethostname()})
    for _attempt in range(2):
        try:
            fd = os.open(lock_path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = _read_holder(lock_path)
            if holder is not None and holder.alive():
                raise RunLockedError(
                    f"lake {lake_dir} is locked by run {holder.run_id} (pid {holder.pid} on {holder.host}); "
                    f"wait for it to finish, or remove {lock_path} if that process is gone"
                ) from None
            lock_path.unlink(missing_ok=True)  # stale: its process died; take over
            continue
        with os.fdopen(fd, "w") as handle:
            handle.write(payload)
        break
    else:
        raise RunLockedError(f"could not take the run lock {lock_path}")
    try:
        yield
    finally:
        holder = _read_holder(lock_path)
        if holder is not None and holder.run_id == run_id and holder.pid == os.getpid():
            lock_path.unlink(missing_ok=True)


def record_stage_runs(spark: SparkSession, lake: str, rows: list[dict[str, object]]) -> None:
    """MERGE the run's stage records into ``meta.runs`` on (run_id, stage); a rerun overwrites its own rows."""
    frame = spark.createDataFrame([tuple(row[f.name] for f in RUNS_SCHEMA.fields) for row in rows], RUNS_SCHEMA)
    merge_table(spark, frame, table_path(lake, "meta", "runs"), keys=["run_id", "stage"])


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
