"""Hand-built GA4 export rows and files for the hostile-input and reliability tests (imported as ``ga4_rows``)."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from journeylake.schemas.ga4 import GA4_EXPORT_SCHEMA


def micros(ts: datetime) -> int:
    return int(ts.replace(tzinfo=UTC).timestamp() * 1_000_000)


def param(key: str, value: Any) -> dict[str, Any]:
    """One event_params entry with the value in the field GA4 uses for its type."""
    if isinstance(value, int) and not isinstance(value, bool):
        return {"key": key, "value": {"int_value": value}}
    if isinstance(value, float):
        return {"key": key, "value": {"double_value": value}}
    return {"key": key, "value": {"string_value": value}}


def ga4_row(
    device: str | None,
    ts: datetime | int | None,
    name: str | None = "page_view",
    params: list[dict[str, Any]] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A GA4 export record; ``params`` default to a ga_session_id."""
    event_ts = micros(ts) if isinstance(ts, datetime) else ts
    row: dict[str, Any] = {
        "event_date": ts.strftime("%Y%m%d") if isinstance(ts, datetime) else None,
        "event_timestamp": event_ts,
        "event_name": name,
        "user_pseudo_id": device,
        "event_params": params if params is not None else [param("ga_session_id", 1)],
        "device": {"category": "desktop", "operating_system": "Linux", "web_info": {"browser": "Firefox"}},
        "geo": {"country": "France", "city": "Lyon"},
        "platform": "WEB",
    }
    row.update(fields)
    return row


def ga4_frame(spark: SparkSession, rows: list[dict[str, Any]]) -> DataFrame:
    """GA4_EXPORT_SCHEMA columns, as the Parquet reader returns them."""
    lines = spark.createDataFrame([(json.dumps(r),) for r in rows], "line string")
    return lines.select(F.from_json("line", GA4_EXPORT_SCHEMA).alias("r")).select("r.*")


def write_ga4_parquet(spark: SparkSession, rows: list[dict[str, Any]], target: Path) -> Path:
    """Write ``rows`` as one Parquet file at ``target`` (a file, as the GA4 export has them)."""
    staging = target.parent / f".{target.name}.staging"
    ga4_frame(spark, rows).coalesce(1).write.mode("overwrite").parquet(str(staging))
    [part] = staging.glob("part-*.parquet")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(part), target)
    shutil.rmtree(staging)
    return target
