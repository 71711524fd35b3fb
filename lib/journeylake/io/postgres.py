"""A local PostgreSQL for development and tests, loaded with the generated backend.

Production already has its database; this module starts a throwaway server from
Debian's ``postgresql`` binaries on 127.0.0.1 (data directory of our choosing),
creates the backend schema and bulk-loads the generator's CSV files with COPY.
PostgreSQL refuses to run as root, so as root the server runs as the ``postgres``
system user that the Debian package creates.
"""

from __future__ import annotations

import csv
import glob
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from journeylake.config import validate_identifier

PG_BIN_GLOB = "/usr/lib/postgresql/*/bin"
SERVER_START_TIMEOUT_S = 60
BACKEND_DDL = {
    "users": """CREATE TABLE IF NOT EXISTS users (
        user_id BIGINT PRIMARY KEY,
        login_id TEXT,
        email_sha256 TEXT,
        created_at TIMESTAMP,
        country TEXT)""",
    "orders": """CREATE TABLE IF NOT EXISTS orders (
        order_id BIGINT PRIMARY KEY,
        user_id BIGINT,
        ga_transaction_id TEXT,
        order_ts TIMESTAMP,
        status TEXT,
        revenue DOUBLE PRECISION,
        currency TEXT)""",
    "order_items": """CREATE TABLE IF NOT EXISTS order_items (
        order_item_id BIGINT PRIMARY KEY,
        order_id BIGINT,
        item_id TEXT,
        quantity BIGINT,
        price DOUBLE PRECISION)""",
}


class PostgresError(RuntimeError):
    pass


def pg_bin(tool: str) -> str:
    """Path of a PostgreSQL server tool (initdb, pg_ctl), newest installed version first."""
    for folder in sorted(glob.glob(PG_BIN_GLOB), reverse=True):
        candidate = Path(folder) / tool
        if candidate.exists():
            return str(candidate)
    found = shutil.which(tool)
    if found:
        return found
    raise PostgresError(f"{tool} not found: install Debian's postgresql package (make setup does)")


def _as_server_user(command: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


@dataclass(frozen=True)
class LocalPostgres:
    data_dir: Path
    port: int
    user: str = "journeylake"
    database: str = "journeylake"

    @property
    def jdbc_url(self) -> str:
        return f"jdbc:postgresql://127.0.0.1:{self.port}/{self.database}"

    def start(self, password: str) -> None:
        """initdb (first time only), start the server and create the database; idempotent."""
        validate_identifier(self.user, "database user")
        validate_identifier(self.database, "database name")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.data_dir, user="postgres", group="postgres")
        if not (self.data_dir / "PG_VERSION").exists():
            pwfile = self.data_dir.parent / f".{self.data_dir.name}.pw"
            pwfile.write_text(password + "\n")
            if os.geteuid() == 0:
                shutil.chown(pwfile, user="postgres", group="postgres")
            pwfile.chmod(0o600)
            try:
                self._run(
                    [
                        pg_bin("initdb"),
                        "-D",
                        str(self.data_dir),
                        "-U",
                        self.user,
                        "--auth-host=scram-sha-256",
                        "--auth-local=trust",
                        f"--pwfile={pwfile}",
                        "--encoding=UTF8",
                        "--no-instructions",
                    ]
                )
            finally:
                pwfile.unlink(missing_ok=True)
        if not self.running():
            options = f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.data_dir}"
            self._run(
                [pg_bin("pg_ctl"), "-D", str(self.data_dir), "-o", options, "-l", str(self.log_file), "-w", "start"]
            )
            self._wait_ready()
        self._create_database()

    @property
    def log_file(self) -> Path:
        return self.data_dir / "server.log"

    def running(self) -> bool:
        status = subprocess.run(
            _as_server_user([pg_bin("pg_ctl"), "-D", str(self.data_dir), "status"]),
            capture_output=True,
            text=True,
            check=False,
        )
        return status.returncode == 0

    def stop(self) -> None:
        if (self.data_dir / "PG_VERSION").exists() and self.running():
            self._run([pg_bin("pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop"])

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._psql("postgres", "SELECT 1", check=False).returncode == 0:
                return
            time.sleep(0.5)
        raise PostgresError(
            f"PostgreSQL did not accept connections within {SERVER_START_TIMEOUT_S}s; see {self.log_file}"
        )

    def _create_database(self) -> None:
        exists = self._psql("postgres", f"SELECT 1 FROM pg_database WHERE datname = '{self.database}'")
        if exists.stdout.strip() != "1":
            self._psql("postgres", f"CREATE DATABASE {self.database}")

    def _psql(self, database: str, sql: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = ["psql", "-h", str(self.data_dir), "-p", str(self.port), "-U", self.user, "-d", database]
        return subprocess.run(_as_server_user([*command, "-tAc", sql]), capture_output=True, text=True, check=check)

    def _run(self, command: list[str]) -> None:
        completed = subprocess.run(_as_server_user(command), capture_output=True, text=True, check=False)
        if completed.returncode != 0:
            raise PostgresError(
                f"{Path(command[0]).name} failed: {completed.stderr.strip() or completed.stdout.strip()}"
            )


def load_backend_csv(server: LocalPostgres, password: str, csv_dir: Path) -> dict[str, int]:
    """Create the backend tables and replace their rows with the CSV files in ``csv_dir`` (COPY)."""
    import psycopg2  # dev dependency: loading is a local/test tool, the pipeline reads over JDBC

    counts: dict[str, int] = {}
    with (
        psycopg2.connect(
            host="127.0.0.1", port=server.port, user=server.user, password=password, dbname=server.database
        ) as connection,
        connection.cursor() as cursor,
    ):
        for table, ddl in BACKEND_DDL.items():
            csv_path = csv_dir / f"{table}.csv"
            if not csv_path.exists():
                raise PostgresError(f"backend CSV not found: {csv_path} (generate the sample first)")
            cursor.execute(ddl)
            cursor.execute(f"TRUNCATE {table}")
            with csv_path.open() as handle:
                header = next(csv.reader([handle.readline()]))
                columns = ", ".join(validate_identifier(c, "backend column") for c in header)
                handle.seek(0)
                cursor.copy_expert(f"COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv, HEADER true)", handle)
            cursor.execute(f"SELECT COUNT(*) FROM {table}")
            row = cursor.fetchone()
            counts[table] = int(row[0]) if row else 0
    return counts
