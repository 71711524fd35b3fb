"""Start or stop a local BigQuery emulator (bqemulator) in the background, for `make publish` on a laptop.

    jobs/bq_emulator.py start [--port 9050] [--grpc-port 9060] [--gcs-root .bqemu-gcs]
                              [--state-dir .bqemu] [--project test-project]
    jobs/bq_emulator.py stop [--state-dir .bqemu]

`start` launches `bqemulator start` on 127.0.0.1 with BQEMU_GCS_LOCAL_ROOT=<gcs-root>, waits
until GET /healthz answers, and writes its pid and endpoint to <state-dir>/emulator.json
(the log goes to <state-dir>/emulator.log). It does nothing if that emulator is already
up. `stop` ends exactly that process. The emulator keeps its data in memory only.
"""

import sys

from journeylake.cli import job

parse_args, run = job("bq-emulator", __doc__)

if __name__ == "__main__":
    sys.exit(run(None, parse_args()))
