"""Run a local PostgreSQL with the generated backend loaded (for local runs and tests).

    jobs/backend_postgres.py start|stop|load [--data-dir DIR] [--port N] [--sample-dir DIR]

The password is read from $JOURNEYLAKE_DB_PASSWORD (required for start and load).
Then run the pipeline against it with
    JOURNEYLAKE_DB_PASSWORD=... make reconcile JDBC_URL=jdbc:postgresql://127.0.0.1:<port>/journeylake
"""

import sys

from journeylake.cli import job

parse_args, run = job("postgres", __doc__)

if __name__ == "__main__":
    sys.exit(run(None, parse_args()))
