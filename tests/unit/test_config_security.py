"""Configuration cannot carry secrets or names that escape where they are used."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from journeylake.config import PipelineConfig, load_config, validate_config, with_overrides
from journeylake.io.delta import PAUSE_ENV, pause_before_write, table_path

pytestmark = pytest.mark.unit


def test_a_password_in_a_config_file_is_rejected(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[backend]\npassword = "hunter2"\n')
    with pytest.raises(ValueError, match=r"unknown config key\(s\) in \[backend\]: password") as error:
        load_config(config)
    assert "hunter2" not in str(error.value)


@pytest.mark.parametrize(
    "url",
    [
        "jdbc:postgresql://db:5432/shop?user=app&password=hunter2",
        "jdbc:postgresql://db/shop;Password = hunter2",
        "jdbc:postgresql://app:hunter2@db:5432/shop",
    ],
)
def test_a_jdbc_url_holding_a_password_is_rejected_without_echoing_it(url: str) -> None:
    with pytest.raises(ValueError, match="must not contain a password") as error:
        with_overrides(PipelineConfig(), **{"backend.jdbc_url": url})
    assert "hunter2" not in str(error.value)


def test_plain_values_pass() -> None:
    config = with_overrides(
        PipelineConfig(),
        **{"backend.jdbc_url": "jdbc:postgresql://127.0.0.1:5432/shop?sslmode=require"},
        **{"ingest.from_date": "2021-01-01"},
    )
    assert validate_config(config) is config
    assert validate_config(load_config()) == load_config()  # the shipped defaults are valid


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("backend.password_env", "X; rm -rf /", "invalid backend.password_env"),
        ("ingest.pii_salt_env", "$(whoami)", "invalid ingest.pii_salt_env"),
        ("backend.jdbc_url", "postgresql://db/shop", "expected jdbc:"),
        ("ingest.from_date", "2021-01-01' OR '1'='1", "invalid ingest.from_date"),
        ("ingest.min_event_date", "yesterday", "invalid ingest.min_event_date"),
    ],
)
def test_values_used_in_names_sql_or_environment_lookups_are_validated(key: str, value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        with_overrides(PipelineConfig(), **{key: value})


@pytest.mark.parametrize("table", ["../../etc", "events/../../x", "events; DROP TABLE t", "Events", "", "a b"])
def test_table_names_outside_plain_identifiers_are_rejected(table: str) -> None:
    with pytest.raises(ValueError, match="invalid table name"):
        table_path("/lake", "gold", table)


def test_table_path_of_plain_names(tmp_path: Path) -> None:
    assert table_path(tmp_path, "gold", "user_journeys") == str(tmp_path / "gold" / "user_journeys")
    with pytest.raises(ValueError, match="unknown layer"):
        table_path(tmp_path, "../gold", "x")


def test_the_crash_test_hook_does_nothing_unless_it_names_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PAUSE_ENV, raising=False)
    started = time.monotonic()
    pause_before_write("/lake/gold/user_journeys")
    monkeypatch.setenv(PAUSE_ENV, "gold/users")  # another table: no pause ("gold/user_journeys" ends differently)
    pause_before_write("/lake/gold/user_journeys")
    pause_before_write("/lake/gold/not_users")
    assert time.monotonic() - started < 1
