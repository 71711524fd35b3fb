"""Start or stop a local BigQuery emulator (bqemulator) in the background, for `make publish` on a laptop.

    journeylake bq-emulator start [--port 9050] [--grpc-port 9060] [--gcs-root .bqemu-gcs]
                                               [--state-dir .bqemu] [--project test-project]
    journeylake bq-emulator stop [--state-dir .bqemu]

`start` launches `bqemulator start` on 127.0.0.1 with BQEMU_GCS_LOCAL_ROOT=<gcs-root>, waits
until GET /healthz answers, and writes its pid and endpoint to <state-dir>/emulator.json
(the log goes to <state-dir>/emulator.log). It does nothing if that emulator is already
up. `stop` ends exactly that process. The emulator keeps its data in memory only.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

HOST = "127.0.0.1"
STARTUP_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 15.0
POLL_SECONDS = 0.5
HEALTH_TIMEOUT_SECONDS = 2.0
STATE_FILE = "emulator.json"
LOG_FILE = "emulator.log"


def healthy(endpoint: str) -> bool:
    try:
        with urllib.request.urlopen(f"{endpoint}/healthz", timeout=HEALTH_TIMEOUT_SECONDS) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def start(port: int, grpc_port: int, gcs_root: str, state_dir: str, project: str) -> int:
    folder = Path(state_dir)
    folder.mkdir(parents=True, exist_ok=True)
    state_path = folder / STATE_FILE
    endpoint = f"http://{HOST}:{port}"
    if state_path.exists():
        state = json.loads(state_path.read_text())
        if alive(state["pid"]) and healthy(state["endpoint"]):
            print(f"emulator already running: pid {state['pid']} at {state['endpoint']}")
            return 0
    gcs_folder = Path(gcs_root).resolve()
    gcs_folder.mkdir(parents=True, exist_ok=True)
    binary = Path(sys.executable).with_name("bqemulator")
    command = [
        str(binary),
        "start",
        "--rest-host",
        HOST,
        "--rest-port",
        str(port),
        "--grpc-host",
        HOST,
        "--grpc-port",
        str(grpc_port),
        "--project",
        project,
        "--log-level",
        "warning",
    ]
    log = (folder / LOG_FILE).open("ab")
    process = subprocess.Popen(
        command,
        env={**os.environ, "BQEMU_GCS_LOCAL_ROOT": str(gcs_folder)},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # survives the make recipe's shell
    )
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            print(f"emulator exited with code {process.returncode}; see {folder / LOG_FILE}", file=sys.stderr)
            return 1
        if healthy(endpoint):
            state = {"pid": process.pid, "endpoint": endpoint, "gcs_root": str(gcs_folder), "project": project}
            state_path.write_text(json.dumps(state, indent=2))
            print(f"emulator running: pid {process.pid} at {endpoint}, BQEMU_GCS_LOCAL_ROOT={gcs_folder}")
            return 0
        time.sleep(POLL_SECONDS)
    process.terminate()
    print(f"emulator not healthy after {STARTUP_TIMEOUT_SECONDS:.0f}s; see {folder / LOG_FILE}", file=sys.stderr)
    return 1


def stop(state_dir: str) -> int:
    state_path = Path(state_dir) / STATE_FILE
    if not state_path.exists():
        print("no emulator state file; nothing to stop")
        return 0
    pid = int(json.loads(state_path.read_text())["pid"])
    if alive(pid):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(POLL_SECONDS)
        if alive(pid):
            os.kill(pid, signal.SIGKILL)
    state_path.unlink()
    print(f"emulator {pid} stopped")
    return 0
