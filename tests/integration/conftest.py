"""Fixtures for integration tests: servers started on 127.0.0.1 for the test run and stopped after it."""

from __future__ import annotations

import secrets
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from journeylake.io.postgres import LocalPostgres


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def postgres() -> Iterator[tuple[LocalPostgres, str]]:
    """A throwaway PostgreSQL (its own data directory and port) and its password."""
    # As root the server runs as the postgres user, which must be able to enter its folder.
    root = Path(tempfile.mkdtemp(prefix="journeylake-pg-"))
    root.chmod(0o755)
    server = LocalPostgres(data_dir=root / "data", port=free_port())
    password = secrets.token_urlsafe(16)
    server.start(password)
    try:
        yield server, password
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
