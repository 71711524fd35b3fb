"""Structured logs: one key=value line per stage summary that splits back into its fields; quiet Spark."""

from __future__ import annotations

import io
import logging
import shlex
from collections.abc import Iterator

import pytest

from journeylake.logs import configure_logging, format_fields, log_stage_summary, stage_summary_fields
from journeylake.spark import LOG4J2_CONFIG, driver_java_options, show_progress
from journeylake.stages import StageResult

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def _restore_logger() -> Iterator[None]:
    """configure_logging changes the process-wide journeylake logger; give the other tests theirs back."""
    logger = logging.getLogger("journeylake")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    yield
    logger.handlers[:], logger.level, logger.propagate = saved


def _fields(line: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in shlex.split(line))


def test_stage_summary_is_one_parseable_line_with_rows_and_seconds() -> None:
    stream = io.StringIO()
    logger = configure_logging("INFO", stream=stream)
    result = StageResult(
        stage="ingest",
        seconds=3.2104,
        rows_in={"ga4": 1200},
        rows_out={"bronze.events": 1100, "bronze.quarantine": 80},
        message='2 files; reason "bad json" x=1',
    )
    log_stage_summary(result)
    log_stage_summary(StageResult(stage="identity", seconds=1.0, failed=True, message="ValueError: boom\nline 2"))

    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    first = _fields(lines[0])
    assert first["level"] == "INFO" and first["logger"] == "journeylake.stages"
    assert first["event"] == "stage_summary" and first["stage"] == "ingest" and first["status"] == "ok"
    assert (first["seconds"], first["rows_in"], first["rows_out"]) == ("3.21", "1200", "1180")
    assert first["out.bronze.events"] == "1100" and first["in.ga4"] == "1200"
    assert first["message"] == '2 files; reason "bad json" x=1'
    assert "msg" not in first
    failed = _fields(lines[1])
    assert (failed["level"], failed["status"], failed["rows_out"]) == ("ERROR", "failed", "0")
    assert failed["message"] == "ValueError: boom\\nline 2"  # a multi-line message stays on one line
    assert not logger.propagate


def test_configure_logging_is_idempotent_and_respects_the_level() -> None:
    stream = io.StringIO()
    configure_logging("WARNING", stream=stream)
    configure_logging("WARNING", stream=stream)
    logging.getLogger("journeylake.graph").info("hidden")
    logging.getLogger("journeylake.graph").warning("component capped at %d nodes", 50)
    assert stream.getvalue().splitlines()[-1].endswith('msg="component capped at 50 nodes"')
    assert len(stream.getvalue().splitlines()) == 1


def test_values_are_bare_when_safe_and_quoted_otherwise() -> None:
    fields = {"a": "gs://b/lake", "b": None, "c": True, "d": 2.50, "e": "two words", "f": ""}
    assert format_fields(fields) == 'a=gs://b/lake b=- c=true d=2.5 e="two words" f=""'
    assert stage_summary_fields(StageResult(stage="x"))["rows_out"] == 0


def test_spark_is_quiet_and_shows_progress_only_when_interactive() -> None:
    assert LOG4J2_CONFIG.is_file()
    config = LOG4J2_CONFIG.read_text()
    assert "rootLogger.level = warn" in config
    assert f"-Dlog4j2.configurationFile={LOG4J2_CONFIG.as_uri()}" in driver_java_options()
    assert "-Duser.timezone=UTC" in driver_java_options(None)
    assert show_progress({}, interactive=True) and not show_progress({}, interactive=False)
    assert show_progress({"JOURNEYLAKE_PROGRESS": "1"}, interactive=False)
    assert not show_progress({"JOURNEYLAKE_PROGRESS": "off"}, interactive=True)
