"""Readers for the ingestion sources, the file listing behind the watermark, and bronze MERGEs.

GA4 arrives as the BigQuery export: daily ``events_YYYYMMDD`` Parquet files or
newline-delimited JSON (``*.json``, ``*.jsonl``, ``*.ndjson``), or, on Dataproc,
the BigQuery table itself through the Spark BigQuery connector. Every read uses
an explicit schema (``journeylake.schemas.ga4`` / ``journeylake.schemas.sources``):
a Parquet file that lacks an optional column reads it as null, an extra column
is ignored. Each row carries the file it came from (``source_file``, from the
``_metadata.file_path`` column of Spark's file sources).

NDJSON from BigQuery writes INT64 values as JSON strings. So lines are read as
text, parsed with a schema whose every leaf is a string, and cast leaf by leaf
to the export schema with ``try_cast``: a value that does not parse becomes
null (and the row is then quarantined by the rules, with its raw line), a line
that is not a JSON object is flagged ``_parse_failed``. Nothing raises.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from journeylake.io.delta import merge_table, read_table_or_empty, table_exists, table_path
from journeylake.io.lake import list_files
from journeylake.schemas.bronze import INGEST_FILES_SCHEMA
from journeylake.schemas.catalog import CATALOG
from journeylake.schemas.ga4 import GA4_EXPORT_SCHEMA

PARQUET_SUFFIXES = (".parquet",)
JSON_SUFFIXES = (".json", ".jsonl", ".ndjson")
GA4_SUFFIXES = PARQUET_SUFFIXES + JSON_SUFFIXES
SOURCE_FILE = "source_file"
RAW_LINE = "_raw_line"
PARSE_FAILED = "_parse_failed"
INGEST_FILES_TABLE = ("meta", "ingest_files")

LISTED_FILES_SCHEMA = T.StructType(
    [
        T.StructField("source", T.StringType(), False),
        T.StructField("path", T.StringType(), False),
        T.StructField("size", T.LongType(), False),
        T.StructField("modification_time", T.TimestampType(), False),
    ]
)


def list_input_files(spark: SparkSession, source: str, root: str, suffixes: Sequence[str]) -> DataFrame:
    """Files under ``root`` (recursively, or ``root`` itself) ending in ``suffixes``: LISTED_FILES_SCHEMA.

    Empty when ``root`` does not exist, so an absent source is "nothing to read", not an error. Listed on the
    driver through Hadoop's FileSystem API (no Spark job; bounded by the number of files), so it works the same
    on local disks, HDFS and object stores. Like Spark's file sources, names starting with ``_`` or ``.``
    (``_SUCCESS``, ``.crc``, ``_temporary/``) are skipped at every level.
    """
    return spark.createDataFrame(
        [(source, path, size, modified) for path, size, modified in list_files(spark, root, suffixes)],
        LISTED_FILES_SCHEMA,
    )


class UnreadableInputError(RuntimeError):
    """An input file cannot be read with its source's schema: truncated, not Parquet, or a column of another type."""


# Spark names the file it failed on in the first line of its error; the detail follows, or sits in the JVM cause.
_FAILED_READ = re.compile(r"\[FAILED_READ_FILE[A-Z_.]*\] Encountered error while reading file (\S+?)\.?\s+(.*)")
_JVM_CAUSE = re.compile(r"Caused by: [\w.$]+: (.+)")
MAX_DETAIL_CHARS = 300  # one line of the summary, never a stack trace


def unreadable_input_error(error: Exception, source: str) -> UnreadableInputError | None:
    """A short error naming the unreadable file when ``error`` is Spark failing to read an input file; else None.

    The batch that hit it wrote nothing (reads fail before the MERGEs) and the watermark does not list its files,
    so once the file is fixed or moved away the next run reads the batch again.
    """
    text = str(error)
    match = _FAILED_READ.search(text)
    if match is None:
        return None
    detail = match.group(2).split("SQLSTATE")[0].strip()
    if not detail:
        cause = _JVM_CAUSE.search(text)
        detail = cause.group(1).strip() if cause else "unreadable"
    return UnreadableInputError(
        f"cannot read {source} input file {match.group(1)}: {detail[:MAX_DETAIL_CHARS]}; "
        "nothing of this batch was written: fix or remove the file and rerun"
    )


def _text_leaves(data_type: T.DataType) -> T.DataType:
    """The same shape with every scalar as STRING: parses JSON whatever its numbers are quoted as."""
    if isinstance(data_type, T.StructType):
        return T.StructType([T.StructField(f.name, _text_leaves(f.dataType), True) for f in data_type.fields])
    if isinstance(data_type, T.ArrayType):
        return T.ArrayType(_text_leaves(data_type.elementType), True)
    return T.StringType()


GA4_TEXT_SCHEMA = T.StructType(
    [T.StructField(f.name, _text_leaves(f.dataType), True) for f in GA4_EXPORT_SCHEMA.fields]
)


def _by_suffix(paths: Sequence[str], suffixes: Sequence[str]) -> list[str]:
    return [p for p in paths if p.lower().endswith(tuple(suffixes))]


def _expand(spark: SparkSession, paths: str | Sequence[str], suffixes: Sequence[str]) -> list[str]:
    """Paths as given, with folders replaced by the matching files under them."""
    wanted = [paths] if isinstance(paths, str) else list(paths)
    files = _by_suffix(wanted, suffixes)
    folders = [p for p in wanted if p not in files]
    for folder in folders:
        # A listing: one row per file, bounded by the number of files.
        files.extend(r["path"] for r in list_input_files(spark, "", folder, suffixes).select("path").collect())
    return sorted(set(files))


def read_ga4_export(spark: SparkSession, paths: str | Sequence[str]) -> DataFrame:
    """GA4 export rows from Parquet and/or NDJSON files (or folders of them).

    Returns GA4_EXPORT_SCHEMA columns plus ``source_file``, ``_raw_line`` (NDJSON text, null for Parquet)
    and ``_parse_failed``. Raises ``FileNotFoundError`` when no GA4 file is found.
    """
    files = _expand(spark, paths, GA4_SUFFIXES)
    if not files:
        raise FileNotFoundError(f"no GA4 export files ({', '.join(GA4_SUFFIXES)}) under {paths}")
    frames: list[DataFrame] = []
    parquet_files = _by_suffix(files, PARQUET_SUFFIXES)
    if parquet_files:
        parquet = spark.read.schema(GA4_EXPORT_SCHEMA).parquet(*parquet_files)
        frames.append(
            parquet.select(
                *GA4_EXPORT_SCHEMA.fieldNames(),
                F.col("_metadata.file_path").alias(SOURCE_FILE),
                F.lit(None).cast("string").alias(RAW_LINE),
                F.lit(False).alias(PARSE_FAILED),
            )
        )
    json_files = _by_suffix(files, JSON_SUFFIXES)
    if json_files:
        lines = spark.read.text(json_files).select(
            F.col("value").alias(RAW_LINE), F.col("_metadata.file_path").alias(SOURCE_FILE)
        )
        # A blank line is not a record (editors and `cat` leave them); everything else is counted.
        parsed = lines.where(F.trim(F.col(RAW_LINE)) != "").select(
            F.from_json(F.col(RAW_LINE), GA4_TEXT_SCHEMA, {"mode": "PERMISSIVE"}).alias("_text"),
            RAW_LINE,
            SOURCE_FILE,
        )
        typed = parsed.select(
            F.col("_text").try_cast(GA4_EXPORT_SCHEMA).alias("_typed"), "_text", RAW_LINE, SOURCE_FILE
        )
        frames.append(
            typed.select(
                *[F.col("_typed")[f].alias(f) for f in GA4_EXPORT_SCHEMA.fieldNames()],
                F.col(SOURCE_FILE),
                F.col(RAW_LINE),
                # from_json yields null, or a struct of nulls, for text that is not a JSON object.
                (F.col("_text").isNull() | (F.to_json(F.col("_text")) == "{}")).alias(PARSE_FAILED),
            )
        )
    result = frames[0]
    for frame in frames[1:]:
        result = result.unionByName(frame)
    return result


def read_ga4_bigquery(spark: SparkSession, table: str) -> DataFrame:
    """GA4 export rows from a BigQuery table (``project.dataset.events_*``) with the Spark BigQuery connector.

    Needs the connector on the cluster (Dataproc images ship it). Returns the same columns as
    ``read_ga4_export``; ``source_file`` is the table name.
    """
    frame = spark.read.format("bigquery").option("table", table).load()
    present = set(frame.columns)
    return frame.select(
        *[
            (F.col(f.name) if f.name in present else F.lit(None)).cast(f.dataType).alias(f.name)
            for f in GA4_EXPORT_SCHEMA.fields
        ],
        F.lit(f"bigquery:{table}").alias(SOURCE_FILE),
        F.lit(None).cast("string").alias(RAW_LINE),
        F.lit(False).alias(PARSE_FAILED),
    )


def read_source_files(spark: SparkSession, files: Sequence[str], schema: T.StructType) -> DataFrame:
    """A non-GA4 source from Parquet and/or NDJSON files, with ``schema`` and ``source_file``."""
    frames: list[DataFrame] = []
    parquet_files = _by_suffix(files, PARQUET_SUFFIXES)
    if parquet_files:
        frames.append(spark.read.schema(schema).parquet(*parquet_files))
    json_files = _by_suffix(files, JSON_SUFFIXES)
    if json_files:
        frames.append(spark.read.schema(schema).option("mode", "PERMISSIVE").json(json_files))
    if not frames:
        raise FileNotFoundError(f"no source files among {list(files)[:5]}")
    typed = [f.select(*schema.fieldNames(), F.col("_metadata.file_path").alias(SOURCE_FILE)) for f in frames]
    result = typed[0]
    for frame in typed[1:]:
        result = result.unionByName(frame)
    return result


# ---- watermark -------------------------------------------------------------------------------------------------


def ingest_files_path(lake: str) -> str:
    return table_path(lake, *INGEST_FILES_TABLE)


def read_ingest_files(spark: SparkSession, lake: str) -> DataFrame:
    """meta.ingest_files, or an empty frame before the first run."""
    return read_table_or_empty(spark, ingest_files_path(lake), INGEST_FILES_SCHEMA)


def write_ingest_files(spark: SparkSession, rows: DataFrame, lake: str) -> None:
    """Record the files a run read; the latest read of a path wins."""
    merge_table(spark, rows, ingest_files_path(lake), keys=["source", "path"], spec=CATALOG["meta.ingest_files"])


def read_prior_purchases(spark: SparkSession, events_path: str) -> DataFrame:
    """``event_id``, ``transaction_key``, ``event_ts_micros`` of purchases already in bronze.events."""
    schema = T.StructType(
        [
            T.StructField("event_id", T.StringType()),
            T.StructField("transaction_key", T.LongType()),
            T.StructField("event_ts_micros", T.LongType()),
        ]
    )
    if not table_exists(spark, events_path):
        return spark.createDataFrame([], schema)
    events = spark.read.format("delta").load(events_path)
    return events.where((F.col("event_name") == "purchase") & F.col("transaction_key").isNotNull()).select(
        *schema.fieldNames()
    )


def now_utc() -> datetime:
    """Wall-clock UTC time, naive (Spark timestamps here are UTC)."""
    return datetime.now(UTC).replace(tzinfo=None)
