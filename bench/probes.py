"""What a benchmark reads about the running process and the machine: load, driver JVM memory and CPU,
and Spark's own per-stage metrics through the UI's REST API (the status store; no SparkListener).

Peak driver memory is the driver JVM's peak resident set size (``VmHWM`` in ``/proc/<pid>/status``),
reset before each pipeline stage by writing ``5`` to ``/proc/<pid>/clear_refs`` (Linux), so every stage
gets its own peak. In local mode the driver JVM also runs the tasks, so this is the whole Spark process.
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession

REST_TIMEOUT_SECONDS = 30
CLK_TCK = os.sysconf("SC_CLK_TCK")
KIB = 1024


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def jvm_pid(spark: SparkSession) -> int:
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    return int(jvm.java.lang.ProcessHandle.current().pid())


def reset_peak_rss(pid: int) -> bool:
    """Reset the process's peak RSS (VmHWM); False where the kernel does not allow it."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def peak_rss_bytes(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
    return int(match.group(1)) * KIB if match else 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds the process (all its threads) has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


@dataclass
class ProcessSample:
    """A point-in-time reading of the driver JVM: CPU used so far, and load."""

    cpu: float
    load: list[float]

    @staticmethod
    def take(pid: int) -> ProcessSample:
        return ProcessSample(cpu=cpu_seconds(pid), load=load_average())


class SparkRest:
    """The Spark UI REST API of this application (``spark.ui.enabled`` must be on, as in ``make run``)."""

    def __init__(self, spark: SparkSession) -> None:
        url = spark.sparkContext.uiWebUrl
        if not url:
            raise RuntimeError("the Spark UI is off: the benchmark reads stage metrics from its REST API")
        self.base = f"{url.rstrip('/')}/api/v1/applications/{spark.sparkContext.applicationId}"

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(f"{self.base}/{path}", timeout=REST_TIMEOUT_SECONDS) as response:
            return json.load(response)

    def shuffle_by_group(self) -> dict[str, dict[str, int]]:
        """Shuffle read/write bytes, input bytes and task run time summed over the stages of each job group.

        Every stage attempt counts (a retried stage shuffles again). Jobs without a group are under ``""``.
        """
        stages = {(s["stageId"], s["attemptId"]): s for s in self.get("stages")}
        attempts_by_stage: dict[int, list[dict[str, Any]]] = {}
        for (stage_id, _), stage in stages.items():
            attempts_by_stage.setdefault(stage_id, []).append(stage)
        totals: dict[str, dict[str, int]] = {}
        seen: set[int] = set()
        for job in self.get("jobs"):
            group = job.get("jobGroup") or ""
            bucket = totals.setdefault(
                group,
                {"shuffle_write_bytes": 0, "shuffle_read_bytes": 0, "input_bytes": 0, "executor_run_ms": 0, "jobs": 0},
            )
            bucket["jobs"] += 1
            for stage_id in job.get("stageIds", []):
                if stage_id in seen:  # a stage shared by two jobs (reused shuffle) is counted once
                    continue
                seen.add(stage_id)
                for stage in attempts_by_stage.get(stage_id, []):  # skipped stages have no attempt data
                    bucket["shuffle_write_bytes"] += int(stage.get("shuffleWriteBytes", 0))
                    bucket["shuffle_read_bytes"] += int(stage.get("shuffleReadBytes", 0))
                    bucket["input_bytes"] += int(stage.get("inputBytes", 0))
                    bucket["executor_run_ms"] += int(stage.get("executorRunTime", 0))
        return totals

    def driver_peak_memory(self) -> dict[str, int]:
        """The driver's peak JVM memory metrics (heap, off-heap, ...) as the executor heartbeat recorded them."""
        for executor in self.get("allexecutors"):
            if executor.get("id") == "driver":
                return {k: int(v) for k, v in (executor.get("peakMemoryMetrics") or {}).items()}
        return {}


def machine() -> dict[str, Any]:
    """CPU model and count, memory and OS, from /proc/cpuinfo and ``free``."""
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    models = re.findall(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    try:
        free = subprocess.run(["free", "-b"], capture_output=True, text=True, check=True).stdout
        mem_line = next(line for line in free.splitlines() if line.startswith("Mem:"))
        memory_bytes = int(mem_line.split()[1])
    except (OSError, subprocess.CalledProcessError, StopIteration):
        memory_bytes = 0
    return {
        "cpu_model": models[0] if models else platform.processor(),
        "cores": os.cpu_count() or 0,
        "memory_gib": round(memory_bytes / KIB**3, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
    }


def java_version() -> str:
    try:
        out = subprocess.run(["java", "-version"], capture_output=True, text=True, check=True).stderr
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return out.splitlines()[0] if out else "unknown"
