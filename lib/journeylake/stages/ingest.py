"""Stage: ingest GA4 and the other sources into bronze Delta tables.

Inputs: ``[input].ga4_dir`` when set (GA4 only: a folder of export files, or
``bigquery:project.dataset.table`` on a cluster with the BigQuery connector),
else ``[input].sample_dir`` with one folder per source (``ga4/``,
``ad_touchpoints/``, ``ad_cost_daily/``, ``competitor_exposures/``). An absent
source is reported and skipped. The backend tables are landed by the backend
stage, not here.

A run reads the files that are new or changed since the last run (the
watermark ``meta.ingest_files``), or the GA4 files dated in
``[ingest].from_date``..``to_date``. Writes: ``bronze.events`` (partitioned by
event_date, insert-only MERGE on event_id), ``bronze.<source>`` (MERGE on the
business key, updated only when the record hash changed),
``bronze.quarantine`` (insert-only on source + record_id + reason), then the
watermark. Killed before the watermark, a rerun reads the same files again and
the MERGEs insert nothing twice. Rows carry the batch id (``ingest.batch_id``, a
hash of the files read) as ``ingest_run_id``, so the killed run's rows and its
rerun's belong to one batch. A file Spark cannot read stops the stage with an
``UnreadableInputError`` naming it, before anything of that source is written.

Accounting: for every source, input rows = accepted + exact duplicates removed
+ quarantined; the stage raises when that does not hold.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from functools import partial
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from journeylake import ingest
from journeylake.config import ConfigError, PipelineConfig
from journeylake.io.delta import INSERT, merge_table, table_path
from journeylake.io.lake import join_uri
from journeylake.io.secrets import read_secret
from journeylake.io.sources import (
    GA4_SUFFIXES,
    JSON_SUFFIXES,
    LISTED_FILES_SCHEMA,
    PARQUET_SUFFIXES,
    list_input_files,
    now_utc,
    read_ga4_bigquery,
    read_ga4_export,
    read_ingest_files,
    read_prior_purchases,
    read_source_files,
    unreadable_input_error,
    write_ingest_files,
)
from journeylake.schemas.bronze import BRONZE_EVENTS_SCHEMA
from journeylake.schemas.catalog import CATALOG
from journeylake.stages import RunContext, StageResult, timed

STAGE = "ingest"
BIGQUERY_PREFIX = "bigquery:"
SOURCE_SUFFIXES = PARQUET_SUFFIXES + JSON_SUFFIXES


class IngestAccountingError(RuntimeError):
    """Input rows do not equal accepted + duplicates + quarantined: rows were lost or invented."""


@dataclass
class SourceCounts:
    input_rows: int = 0
    accepted: int = 0
    duplicates_removed: int = 0
    quarantined: int = 0
    by_reason: dict[str, int] | None = None
    files: int = 0
    inserted: int = 0  # accepted rows new to bronze (an accepted row may already be there from an earlier run)

    def as_dict(self) -> dict[str, Any]:
        return {
            "input_rows": self.input_rows,
            "accepted": self.accepted,
            "duplicates_removed": self.duplicates_removed,
            "quarantined": self.quarantined,
            "quarantined_by_reason": dict(self.by_reason or {}),
            "files": self.files,
            "inserted": self.inserted,
        }


class DefaultSaltRefusedError(ConfigError):
    """PII would be hashed with the built-in salt on real data: anyone could recompute the hashes."""


def pii_salt(config: PipelineConfig, spark: SparkSession | None = None) -> tuple[str, str]:
    """(salt, where it came from; "" for the default): the variable named by ``[ingest].pii_salt_env``, else the alias
    ``[ingest].pii_salt_secret`` of the session's Hadoop credential providers, else the built-in default.

    The default is only for the generated sample: on any other input (``[input].ga4_dir``) it is refused with
    :class:`DefaultSaltRefusedError`, unless ``[ingest].allow_default_pii_salt = true`` says so in so many words.
    """
    value, source = read_secret(spark, config.ingest.pii_salt_env, config.ingest.pii_salt_secret)
    if value:
        return value, source
    if config.input.ga4_dir and not config.ingest.allow_default_pii_salt:
        raise DefaultSaltRefusedError(
            f"refusing to hash e-mails and phones of {config.input.ga4_dir} with the built-in default salt "
            f"(anyone could recompute the hashes): set the environment variable {config.ingest.pii_salt_env} "
            f"(or the credential-provider alias {config.ingest.pii_salt_secret}) to a secret salt, or set "
            "[ingest].allow_default_pii_salt = true to accept the default"
        )
    return config.ingest.pii_salt_default, ""


def input_folders(config: PipelineConfig) -> dict[str, str]:
    """Source name -> folder (or ``bigquery:`` table) to read."""
    if config.input.ga4_dir:
        return {ingest.SOURCE_GA4: config.input.ga4_dir}
    root = config.input.sample_dir
    folders = {ingest.SOURCE_GA4: join_uri(root, "ga4")}
    folders.update({name: join_uri(root, name) for name in ingest.SOURCE_SPECS})
    return folders


def _optional_date(text: str) -> date | None:
    return date.fromisoformat(text) if text else None


def _count_outcomes(tagged: DataFrame) -> tuple[SourceCounts, dict[str, int]]:
    """Counts of one tagged batch and input rows per file (one small collect: files x outcomes)."""
    counts = SourceCounts(by_reason={})
    per_file: Counter[str] = Counter()
    by_reason: Counter[str] = Counter()
    for row in ingest.outcome_counts(tagged).collect():
        rows = int(row["rows"])
        per_file[row[ingest.SOURCE_FILE]] += rows
        counts.input_rows += rows
        if row["outcome"] == "accepted":
            counts.accepted += rows
        elif row["outcome"] == "duplicate":
            counts.duplicates_removed += rows
        else:
            counts.quarantined += rows
            by_reason[row["outcome"]] += rows
    counts.by_reason = dict(sorted(by_reason.items()))
    return counts, dict(per_file)


def _check_accounting(source: str, read_rows: int, counts: SourceCounts) -> None:
    total = counts.accepted + counts.duplicates_removed + counts.quarantined
    if read_rows != total or counts.input_rows != total:
        raise IngestAccountingError(
            f"{source}: read {read_rows} rows but accepted {counts.accepted} + duplicates "
            f"{counts.duplicates_removed} + quarantined {counts.quarantined} = {total}"
        )


def _write_quarantine(context: RunContext, quarantined: list[DataFrame]) -> None:
    """Every source's rejected rows in one insert-only MERGE on (source, record_id, reason): a rerun adds nothing,
    the first sighting is kept."""
    if not quarantined:
        return
    rows = quarantined[0]
    for more in quarantined[1:]:
        rows = rows.unionByName(more)
    spec = CATALOG["bronze.quarantine"]
    path = table_path(context.lake, spec.layer, spec.name)
    merge_table(context.spark, rows, path, list(spec.key), mode=INSERT, spec=spec)


# One source's batch: its counts, the input rows per file, and its quarantined rows (materialized) when any.
Batch = tuple["SourceCounts", dict[str, int], DataFrame | None]


def _ingest_ga4(context: RunContext, raw: DataFrame, salt: str, ingested_at: datetime) -> Batch:
    spark, config = context.spark, context.config
    read_rows = raw.count()
    limits = ingest.event_limits(context.as_of, config.ingest.min_event_date, config.ingest.max_future_hours)
    # Persisted: counted, split in two and written; flattening and hashing run once.
    tagged = ingest.tag_ga4_events(raw, salt, limits).persist()
    try:
        counts, per_file = _count_outcomes(tagged)
        _check_accounting(ingest.SOURCE_GA4, read_rows, counts)
        accepted, quarantined = ingest.split_tagged(
            tagged, BRONZE_EVENTS_SCHEMA, ingest.SOURCE_GA4, context.run_id, ingested_at
        )
        events_path = table_path(context.lake, "bronze", "events")
        if counts.accepted:
            events = ingest.flag_duplicate_purchases(accepted, read_prior_purchases(spark, events_path))
            span = accepted.agg(F.min("event_date").alias("lo"), F.max("event_date").alias("hi")).first()
            assert span is not None
            counts.inserted = merge_table(
                spark,
                events,
                events_path,
                ["event_id"],
                mode=INSERT,
                # An event id is a hash of the record, which holds its date: only the batch's dates can hold its
                # ids, so the MERGE reads just those partitions.
                target_filter=f"t.event_date BETWEEN DATE'{span['lo']}' AND DATE'{span['hi']}'",
                spec=CATALOG["bronze.events"],
            ).inserted
        rejected = quarantined.localCheckpoint() if counts.quarantined else None
    finally:
        tagged.unpersist()
    return counts, per_file, rejected


def _ingest_source(context: RunContext, spec: ingest.SourceSpec, files: list[str], ingested_at: datetime) -> Batch:
    spark = context.spark
    raw = read_source_files(spark, files, spec.schema)
    read_rows = raw.count()
    config = context.config.ingest
    limits = ingest.event_limits(context.as_of, config.min_event_date, config.max_future_hours)
    tagged = ingest.tag_source_records(raw, spec, limits).persist()
    try:
        counts, per_file = _count_outcomes(tagged)
        _check_accounting(spec.name, read_rows, counts)
        accepted, quarantined = ingest.split_tagged(tagged, spec.bronze_schema, spec.name, context.run_id, ingested_at)
        if counts.accepted:
            # An edited source row (same key, another record hash) replaces the old one; a rerun rewrites nothing.
            counts.inserted = merge_table(
                spark,
                accepted,
                table_path(context.lake, "bronze", spec.name),
                list(spec.keys),
                compare_columns=("record_hash",),
                spec=CATALOG[f"bronze.{spec.name}"],
            ).inserted
        rejected = quarantined.localCheckpoint() if counts.quarantined else None
    finally:
        tagged.unpersist()
    return counts, per_file, rejected


def _readable(source: str, ingest_batch: Callable[[], Batch]) -> Batch:
    """Run one source's batch; Spark failing on an input file (truncated, not Parquet, a column of another type)
    becomes a one-line ``UnreadableInputError`` naming the file. The batch read fails before its MERGEs and the
    watermark is written last, so nothing of it is written and the rerun after the fix reads it again."""
    try:
        return ingest_batch()
    except Exception as error:
        unreadable = unreadable_input_error(error, source)
        if unreadable is None:
            raise
        raise unreadable from None


def _selected_files(
    spark: SparkSession, context: RunContext, folders: dict[str, str]
) -> tuple[list[tuple[str, str, int, datetime]], set[str]]:
    """The (source, path, size, mtime) to read this run, and the sources with no folder or no file."""
    listings = []
    for source, folder in folders.items():
        if folder.startswith(BIGQUERY_PREFIX):
            continue
        suffixes = GA4_SUFFIXES if source == ingest.SOURCE_GA4 else SOURCE_SUFFIXES
        listings.append(list_input_files(spark, source, folder, suffixes))
    if not listings:
        return [], set()
    listed = listings[0]
    for other in listings[1:]:
        listed = listed.unionByName(other)
    selected = ingest.select_files_to_ingest(
        listed,
        read_ingest_files(spark, context.lake),
        _optional_date(context.config.ingest.from_date),
        _optional_date(context.config.ingest.to_date),
    )
    # Bounded by the number of input files, not by events.
    listed_sources = {r["source"] for r in listed.select("source").distinct().collect()}
    rows = [(r["source"], r["path"], r["size"], r["modification_time"]) for r in selected.collect()]
    absent = {s for s in folders if s not in listed_sources and not folders[s].startswith(BIGQUERY_PREFIX)}
    return sorted(rows), absent


def run(context: RunContext) -> StageResult:
    """Ingest the configured inputs; StageResult.details holds the accounting per source and in total."""
    result = StageResult(stage=STAGE)
    with timed(result):
        spark = context.spark
        salt, salt_source = pii_salt(context.config, context.spark)
        ingested_at = now_utc()
        folders = input_folders(context.config)
        files, absent = _selected_files(spark, context, folders)
        per_source: dict[str, SourceCounts] = {}
        rows_per_file: dict[str, int] = {}

        ga4_folder = folders.get(ingest.SOURCE_GA4, "")
        ga4_files = [path for source, path, _, _ in files if source == ingest.SOURCE_GA4]
        ga4_raw = None
        if ga4_folder.startswith(BIGQUERY_PREFIX):
            ga4_raw = read_ga4_bigquery(spark, ga4_folder.removeprefix(BIGQUERY_PREFIX))
        elif ga4_files:
            ga4_raw = read_ga4_export(spark, ga4_files)
        # Bronze rows carry the batch's id, not this run's: a killed run's rerun continues the same batch.
        batch = dataclasses.replace(context, run_id=ingest.batch_id(files)) if files else context
        result.details["batch_id"] = batch.run_id
        quarantined: list[DataFrame] = []
        if ga4_raw is not None:
            counts, per_file, rejected = _readable(
                ingest.SOURCE_GA4, partial(_ingest_ga4, batch, ga4_raw, salt, ingested_at)
            )
            counts.files = len(ga4_files)
            per_source[ingest.SOURCE_GA4] = counts
            rows_per_file.update(per_file)
            quarantined += [rejected] if rejected is not None else []

        for name, spec in ingest.SOURCE_SPECS.items():
            source_files = [path for source, path, _, _ in files if source == name]
            if not source_files:
                continue
            counts, per_file, rejected = _readable(
                name, partial(_ingest_source, batch, spec, source_files, ingested_at)
            )
            counts.files = len(source_files)
            per_source[name] = counts
            rows_per_file.update(per_file)
            quarantined += [rejected] if rejected is not None else []
        _write_quarantine(batch, quarantined)

        if files:
            # Last: a run killed before this line reads the same files again next time.
            listed = spark.createDataFrame(files, LISTED_FILES_SCHEMA)
            per_file_rows = spark.createDataFrame(
                sorted(rows_per_file.items()), f"{ingest.SOURCE_FILE} string, rows long"
            )
            write_ingest_files(
                spark, ingest.ingest_file_rows(listed, per_file_rows, context.run_id, ingested_at), context.lake
            )

        _fill_result(result, per_source, absent, files, salt_source, context)
    return result


def _fill_result(
    result: StageResult,
    per_source: dict[str, SourceCounts],
    absent: set[str],
    files: list[tuple[str, str, int, datetime]],
    salt_source: str,
    context: RunContext,
) -> None:
    by_reason: Counter[str] = Counter()
    for counts in per_source.values():
        by_reason.update(counts.by_reason or {})
    result.details.update(
        {
            "input_rows": sum(c.input_rows for c in per_source.values()),
            "accepted": sum(c.accepted for c in per_source.values()),
            "duplicates_removed": sum(c.duplicates_removed for c in per_source.values()),
            "quarantined": sum(c.quarantined for c in per_source.values()),
            "quarantined_by_reason": dict(sorted(by_reason.items())),
            "sources": {name: counts.as_dict() for name, counts in per_source.items()},
            "absent_sources": sorted(absent),
            "files_read": len(files),
            "pii_salt": salt_source or f"default (set {context.config.ingest.pii_salt_env})",
        }
    )
    for name, counts in per_source.items():
        result.rows_in[name] = counts.input_rows
        table = "bronze.events" if name == ingest.SOURCE_GA4 else f"bronze.{name}"
        result.rows_out[table] = counts.accepted
    result.rows_out["bronze.quarantine"] = int(result.details["quarantined"])
    result.message = accounting_line(result) if per_source else "nothing new to ingest"


def accounting_line(result: StageResult) -> str:
    """``input_rows=N accepted=N duplicates_removed=N quarantined=N (reason=N, ...)`` for the job's output."""
    d = result.details
    reasons = ", ".join(f"{k}={v}" for k, v in d.get("quarantined_by_reason", {}).items())
    line = (
        f"input_rows={d.get('input_rows', 0)} accepted={d.get('accepted', 0)} "
        f"duplicates_removed={d.get('duplicates_removed', 0)} quarantined={d.get('quarantined', 0)}"
    )
    absent = d.get("absent_sources") or []
    return line + (f" ({reasons})" if reasons else "") + (f"; absent sources: {', '.join(absent)}" if absent else "")
