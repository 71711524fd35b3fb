"""Reads the generated sample's ground truth (``<sample>/truth/*.parquet``), for scoring only."""

from __future__ import annotations

from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from journeylake.schemas.identity import TRUTH_DEVICES_SCHEMA

TRUTH_DEVICES_FILE = "devices.parquet"


def read_truth_devices(spark: SparkSession, truth_dir: str | Path) -> DataFrame:
    """``truth/devices.parquet`` as ``TRUTH_DEVICES_SCHEMA`` (``person_id`` as text, whatever its file type)."""
    path = Path(truth_dir) / TRUTH_DEVICES_FILE
    if not path.exists():
        raise FileNotFoundError(f"truth file not found: {path} (generate the sample world first)")
    raw = spark.read.parquet(str(path))
    missing = sorted(set(TRUTH_DEVICES_SCHEMA.fieldNames()) - set(raw.columns))
    if missing:
        raise ValueError(f"{path} lacks column(s) {', '.join(missing)}")
    # The generator owns the file's physical types; cast to the contract rather than fail on int vs string ids.
    return raw.select(*[F.col(f.name).cast(f.dataType).alias(f.name) for f in TRUTH_DEVICES_SCHEMA.fields])
