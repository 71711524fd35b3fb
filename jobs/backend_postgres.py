"""Run a local PostgreSQL with the generated backend loaded (for local runs and tests).

    .venv/bin/python jobs/backend_postgres.py start|stop|load [--data-dir DIR] [--port N] [--sample-dir DIR]

The password is read from $JOURNEYLAKE_DB_PASSWORD (required for start and load).
Then run the pipeline against it with
    JOURNEYLAKE_DB_PASSWORD=... make reconcile JDBC_URL=jdbc:postgresql://127.0.0.1:<port>/journeylake
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from journeylake.config import BackendConfig
from journeylake.io.postgres import LocalPostgres, PostgresError, load_backend_csv


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("action", choices=["start", "stop", "load"])
    parser.add_argument("--data-dir", default=".pgdata/data", help="server data directory (git-ignored)")
    parser.add_argument("--port", type=int, default=55432)
    parser.add_argument("--sample-dir", default="data/sample", help="generated sample (backend_csv/ inside)")
    args = parser.parse_args(argv)
    server = LocalPostgres(data_dir=Path(args.data_dir).resolve(), port=args.port)
    password_env = BackendConfig().password_env
    try:
        if args.action == "stop":
            server.stop()
            print(f"stopped PostgreSQL in {server.data_dir}")
            return 0
        password = os.environ.get(password_env)
        if not password:
            print(f"error: set {password_env} to the password to use", file=sys.stderr)
            return 2
        if args.action == "start":
            # As root the server runs as the postgres user, which must be able to enter its folder.
            server.data_dir.parent.mkdir(parents=True, exist_ok=True)
            server.data_dir.parent.chmod(0o755)
            server.start(password)
            print(f"PostgreSQL running: {server.jdbc_url} (user {server.user}, log {server.log_file})")
        else:
            counts = load_backend_csv(server, password, Path(args.sample_dir) / "backend_csv")
            print("loaded " + ", ".join(f"{table}={rows}" for table, rows in counts.items()))
    except PostgresError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
