"""The README's first command, exactly as written: ``make run`` (default config, validation on, no ``--as-of``).

Run as a user runs it: ``make`` in the project folder, in its own process (its own JVM), on a fresh lake and
sample folder. Only the locations and the sample size are set, through the Makefile's documented variables (LAKE,
SAMPLE_DIR, SCALE). The repeated run (a first run, then a day more, then another) is test_daily_runs.py.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

PROJECT = Path(__file__).resolve().parents[2]
STAGES = ("sample", "ingest", "backend", "identity", "journeys", "abandonment", "attribution", "rl", "reconcile")


def make_run(lake: Path, sample: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOURNEYLAKE_")}  # nothing but the defaults
    return subprocess.run(
        ["make", "--no-print-directory", "run", f"LAKE={lake}", f"SAMPLE_DIR={sample}", "SCALE=0.3"],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )


def test_make_run_exits_0_and_prints_the_run_table_and_the_report(tmp_path: Path) -> None:
    lake, sample = tmp_path / "lakehouse", tmp_path / "sample"
    first = make_run(lake, sample)
    assert first.returncode == 0, first.stderr[-3000:]
    for stage in (*STAGES, "validate"):
        assert re.search(rf"^{stage}\s+ok\s", first.stdout, re.MULTILINE), f"{stage} not ok:\n{first.stdout}"
    assert re.search(r"^pipeline ok: run run-\S+, [0-9.]+s, lake ", first.stdout, re.MULTILINE)
    [report] = re.findall(r"^run report: (\S+)$", first.stdout, re.MULTILINE)
    assert Path(report) == lake.resolve() / "reports" / "run" / "index.html"
    assert Path(report).is_file()
    assert (lake / "reports" / "expectations" / "index.html").is_file()
    # Every stage says when it starts, with the run id on the line.
    [run_id] = re.findall(r"^pipeline ok: run (run-\S+),", first.stdout, re.MULTILINE)
    started = [line for line in first.stderr.splitlines() if "stage_start" in line]
    assert len(started) >= len(STAGES) and all(f"run={run_id}" in line for line in started)
