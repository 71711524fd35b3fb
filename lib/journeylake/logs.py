"""Structured, quiet logs: one ``key=value`` line per event, one line per stage summary.

Our own log lines go to stderr through the ``journeylake`` logger, formatted by :class:`KeyValueFormatter`:

    ts=2024-03-01T10:00:00Z level=INFO logger=journeylake.stages event=stage_summary stage=ingest status=ok
    seconds=3.21 rows_in=1200 rows_out=1180 out.bronze.events=1100 out.bronze.quarantine=80

(one line; wrapped here). Values with spaces, quotes or ``=`` are double-quoted with JSON escaping, so a line
splits back into its fields with :func:`shlex.split`. Spark's own JVM logs stay at WARN (see
``journeylake.spark``), so a run prints its stage summaries and real problems, not Spark's INFO chatter.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import IO, Any

from journeylake.stages import StageResult

ROOT_LOGGER = "journeylake"
STAGE_LOGGER = "journeylake.stages"
STAGE_START_EVENT = "stage_start"
LOG_LEVEL_ENV = "JOURNEYLAKE_LOG_LEVEL"
DEFAULT_LOG_LEVEL = "INFO"
STAGE_SUMMARY_EVENT = "stage_summary"
# A stage message can quote a whole error; one log line keeps its first part.
MAX_MESSAGE_CHARS = 500

_BARE_VALUE = re.compile(r"^[A-Za-z0-9_.:/@+,-]+$")
_HANDLER_NAME = "journeylake-kv"
# The run every line belongs to (set once per run by journeylake.cli.make_context); "-" before a run starts.
_run_id: str | None = None


def set_run_id(run_id: str | None) -> None:
    """Tag every following log line with ``run=<run_id>``."""
    global _run_id
    _run_id = run_id


def format_value(value: Any) -> str:
    """One value as it appears after ``key=``: bare when safe, else a JSON string; None is ``-``."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".") if value == value else "nan"
    text = str(value)
    return text if _BARE_VALUE.match(text) else json.dumps(text, ensure_ascii=False)


def format_fields(fields: Mapping[str, Any]) -> str:
    """``key=value`` pairs in the given order, separated by single spaces."""
    return " ".join(f"{key}={format_value(value)}" for key, value in fields.items())


class KeyValueFormatter(logging.Formatter):
    """``ts=... level=... logger=...`` then the record's ``fields`` (``extra={"fields": {...}}``) or ``msg=...``."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        head: dict[str, Any] = {"ts": stamp, "level": record.levelname, "run": _run_id, "logger": record.name}
        fields = getattr(record, "fields", None)
        if isinstance(fields, Mapping):
            head.update(fields)
            message = record.getMessage()
            if message and message not in (STAGE_SUMMARY_EVENT, STAGE_START_EVENT):
                head["msg"] = message
        else:
            head["msg"] = record.getMessage()
        line = format_fields(head)
        if record.exc_info:
            # A traceback is many lines by nature; it follows its one-line header.
            line = f"{line}\n{self.formatException(record.exc_info)}"
        return line


def configure_logging(level: str | None = None, stream: IO[str] | None = None) -> logging.Logger:
    """Send the ``journeylake`` loggers to ``stream`` (stderr) as key=value lines; idempotent.

    The level comes from ``level``, else $JOURNEYLAKE_LOG_LEVEL, else INFO. Our records do not propagate
    to the root logger, so a platform that configures root logging (Databricks, Jupyter) does not print
    them twice.
    """
    logger = logging.getLogger(ROOT_LOGGER)
    logger.setLevel((level or os.environ.get(LOG_LEVEL_ENV) or DEFAULT_LOG_LEVEL).upper())
    for handler in list(logger.handlers):
        if handler.get_name() == _HANDLER_NAME:
            logger.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(KeyValueFormatter())
    logger.addHandler(handler)
    logger.propagate = False
    return logger


def stage_summary_fields(result: StageResult) -> dict[str, Any]:
    """The fields of a stage's one-line summary: status, seconds, total rows in and out, then per table."""
    fields: dict[str, Any] = {
        "event": STAGE_SUMMARY_EVENT,
        "stage": result.stage,
        "status": "failed" if result.failed else "ok",
        "seconds": round(float(result.seconds), 3),
        "rows_in": sum(result.rows_in.values()),
        "rows_out": sum(result.rows_out.values()),
    }
    fields.update({f"in.{table}": int(rows) for table, rows in result.rows_in.items()})
    fields.update({f"out.{table}": int(rows) for table, rows in result.rows_out.items()})
    if result.message:
        fields["message"] = result.message[:MAX_MESSAGE_CHARS]
    return fields


def log_stage_summary(result: StageResult, logger: logging.Logger | None = None) -> None:
    """Log ``result`` as one key=value line (ERROR when the stage failed)."""
    target = logger or logging.getLogger(STAGE_LOGGER)
    level = logging.ERROR if result.failed else logging.INFO
    target.log(level, STAGE_SUMMARY_EVENT, extra={"fields": stage_summary_fields(result)})


def log_stage_start(stage: str, logger: logging.Logger | None = None) -> None:
    """One line when a stage begins, so a long stage is visibly running (and where a crash happened)."""
    target = logger or logging.getLogger(STAGE_LOGGER)
    target.info(STAGE_START_EVENT, extra={"fields": {"event": STAGE_START_EVENT, "stage": stage}})
