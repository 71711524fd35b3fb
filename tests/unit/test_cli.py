"""Every job and the ``journeylake`` command parse their flags and print --help without starting Spark."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from journeylake import cli

pytestmark = pytest.mark.unit

PROJECT = Path(__file__).resolve().parents[2]
JOBS = sorted((PROJECT / "jobs").glob("*.py"))
# No java on PATH and no JAVA_HOME: a script that tried to start Spark would fail instead of printing its help.
NO_JAVA = {
    **{k: v for k, v in os.environ.items() if k not in ("JAVA_HOME", "PYSPARK_GATEWAY_PORT")},
    "PATH": str(Path(sys.executable).parent),
}


def test_every_job_script_is_a_registered_command() -> None:
    scripts = {command.script for command in cli.COMMANDS.values()}
    assert {path.name for path in JOBS} == scripts


@pytest.mark.parametrize("name", sorted(cli.COMMANDS))
def test_every_command_builds_its_parser_and_parses_its_defaults(name: str) -> None:
    command = cli.COMMANDS[name]
    parser = cli.build_parser(name)
    required = {"attribute-paths": ["--input", "in.csv", "--output", "out.csv"], "postgres": ["stop"]}
    required["bq-emulator"] = ["stop"]
    args = parser.parse_args(required.get(name, []))
    if command.common_flags:
        assert args.lake is None and args.as_of is None and args.config is None


@pytest.mark.parametrize("script", JOBS, ids=[p.name for p in JOBS])
def test_every_job_prints_its_help_without_spark(script: Path) -> None:
    completed = subprocess.run(
        [sys.executable, str(script), "--help"], capture_output=True, text=True, env=NO_JAVA, timeout=120
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.startswith("usage: "), completed.stdout[:200]
    command = next(c for c in cli.COMMANDS.values() if c.script == script.name)
    if command.common_flags:
        assert "--lake" in completed.stdout and "--as-of" in completed.stdout


def test_the_journeylake_console_command_lists_every_command_and_each_has_help() -> None:
    console = Path(sys.executable).with_name("journeylake")
    assert console.exists(), "the console script is declared in [project.scripts]; make setup installs it"
    listed = subprocess.run([str(console), "--help"], capture_output=True, text=True, env=NO_JAVA, timeout=120)
    assert listed.returncode == 0, listed.stderr
    for name in cli.COMMANDS:
        assert name in listed.stdout
    for name in ("run", "ingest", "validate"):
        one = subprocess.run([str(console), name, "--help"], capture_output=True, text=True, env=NO_JAVA, timeout=120)
        assert one.returncode == 0 and "--lake" in one.stdout, one.stderr


def test_a_bad_config_is_one_line_and_exit_code_2(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[lake]\nroot = 'x'\nno_such_key = 1\n")
    completed = subprocess.run(
        [sys.executable, str(PROJECT / "jobs" / "ingest.py"), "--config", str(config)],
        capture_output=True,
        text=True,
        env=NO_JAVA,
        timeout=120,
    )
    assert completed.returncode == cli.EXIT_NOT_STARTED
    assert "unknown config key(s) in [lake]: no_such_key" in completed.stderr
    assert "Traceback" not in completed.stderr
