"""Readers (Parquet with missing/extra columns, BigQuery-style NDJSON), other sources' rules, the watermark."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from journeylake import ingest
from journeylake.ingest import EventLimits
from journeylake.io.backend import BACKEND_TABLES, read_backend_table_files
from journeylake.io.sources import LISTED_FILES_SCHEMA, list_input_files, read_ga4_export
from journeylake.schemas.bronze import BRONZE_AD_TOUCHPOINTS_SCHEMA, INGEST_FILES_SCHEMA
from journeylake.schemas.sources import AD_TOUCHPOINTS_SCHEMA

pytestmark = pytest.mark.unit

LIMITS = EventLimits(earliest=datetime(2015, 1, 1), latest=datetime(2021, 2, 1))
TS = 1608372000000000  # 2020-12-19 10:00:00 UTC
RUN_ID, INGESTED_AT = "run-test", datetime(2021, 2, 1)


def test_parquet_with_a_missing_and_an_extra_column_reads(spark: SparkSession, tmp_path: Path) -> None:
    folder = tmp_path / "ga4"
    # No ecommerce, device, ... columns at all; one column the export does not have.
    spark.createDataFrame(
        [(TS, "page_view", "dev-1", "surprise")],
        "event_timestamp long, event_name string, user_pseudo_id string, extra string",
    ).coalesce(1).write.parquet(str(folder / "events_20201219.parquet"))
    raw = read_ga4_export(spark, str(folder))
    [row] = raw.collect()
    assert "extra" not in raw.columns
    assert (row["event_name"], row["ecommerce"], row["device"]) == ("page_view", None, None)
    assert row["source_file"].endswith(".parquet") and row["_parse_failed"] is False
    [tagged] = ingest.tag_ga4_events(raw, "salt", LIMITS).collect()
    assert tagged["_reason"] is None and tagged["revenue"] is None


def test_bigquery_ndjson_with_quoted_ints_and_bad_lines(spark: SparkSession, tmp_path: Path) -> None:
    good = {
        "event_timestamp": str(TS),  # BigQuery writes INT64 as a JSON string
        "event_name": "generate_lead",
        "user_pseudo_id": "dev-1",
        "event_params": [
            {"key": "ga_session_id", "value": {"int_value": "77"}},
            {"key": "email", "value": {"string_value": "Jane@Example.com"}},
        ],
    }
    bad_ts = {**good, "event_timestamp": "not-a-number", "user_pseudo_id": "dev-2"}
    lines = [json.dumps(good), "", json.dumps(bad_ts), "{broken json", json.dumps(good)]
    (tmp_path / "events_20201219.jsonl").write_text("\n".join(lines) + "\n")
    raw = read_ga4_export(spark, [str(tmp_path / "events_20201219.jsonl")])
    assert raw.count() == 4  # the blank line is not a record
    tagged = ingest.tag_ga4_events(raw, "salt", LIMITS)
    got = sorted(
        (r["user_pseudo_id"] or "", r["_reason"] or "", r["_is_duplicate"], r["ga_session_id"] or 0)
        for r in tagged.collect()
    )
    assert got == [
        ("", ingest.UNPARSEABLE_RECORD, False, 0),
        ("dev-1", "", False, 77),
        ("dev-1", "", True, 77),  # the same line twice: one duplicate
        ("dev-2", ingest.NULL_TIMESTAMP, False, 77),
    ]
    quarantined = tagged.where("_reason IS NOT NULL").select("_reason", "_raw_record").collect()
    records = {r["_reason"]: json.loads(r["_raw_record"]) for r in quarantined}
    assert '"not-a-number"' in records[ingest.NULL_TIMESTAMP]["raw_text"]  # the bad value is kept for debugging
    assert records[ingest.UNPARSEABLE_RECORD]["raw_text"] == "{broken json"
    assert all("jane" not in json.dumps(r).lower() for r in records.values())


def test_listing_an_absent_folder_is_empty(spark: SparkSession, tmp_path: Path) -> None:
    assert list_input_files(spark, "ads", str(tmp_path / "nope"), [".parquet"]).count() == 0


def test_ad_touchpoint_rules_keys_and_conflicts(spark: SparkSession) -> None:
    ts = datetime(2020, 12, 19, 10)
    rows = [
        ("t1", ts, "click", "Paid Search", "google", "cpc", "c", "dev-1", "g1", 0.0, "USD"),  # zero cost: fine
        ("t1", ts, "click", "Paid Search", "google", "cpc", "c", "dev-1", "g1", 0.0, "USD"),  # exact duplicate
        ("t2", None, "click", None, None, None, None, None, None, 1.0, "USD"),
        ("t3", ts, "hover", None, None, None, None, "dev-1", None, 1.0, "USD"),
        ("t4", ts, "impression", None, None, None, None, "dev-1", None, -0.01, "USD"),
        (None, ts, "impression", None, None, None, None, "dev-1", None, 1.0, "USD"),
        ("t5", ts, "Impression", None, None, None, None, "(not set)", None, 1.0, "USD"),
        ("t6", ts, "click", None, None, None, None, "dev-2", None, 1.0, "USD"),
        ("t6", ts, "click", None, None, None, None, "dev-2", None, 2.0, "USD"),  # same key, other content
    ]
    df = spark.createDataFrame(rows, AD_TOUCHPOINTS_SCHEMA).withColumn("source_file", F.lit("file:/ads/a.parquet"))
    tagged = ingest.tag_source_records(df, ingest.SOURCE_SPECS["ad_touchpoints"]).cache()
    got = sorted((r["touch_id"] or "", r["cost"], r["_is_duplicate"], r["_reason"] or "") for r in tagged.collect())
    conflict = sorted(tagged.where("touch_id = 't6'").select("record_hash", "cost").collect())
    assert got == sorted(
        [
            ("t1", 0.0, False, ""),
            ("t1", 0.0, True, ""),
            ("t2", 1.0, False, ingest.NULL_TIMESTAMP),
            ("t3", 1.0, False, ingest.UNKNOWN_INTERACTION),
            ("t4", -0.01, False, ingest.NEGATIVE_COST),
            ("", 1.0, False, ingest.NULL_KEY),
            ("t5", 1.0, False, ""),
            ("t6", conflict[0]["cost"], False, ""),  # the smaller record hash is kept
            ("t6", conflict[1]["cost"], False, ingest.DUPLICATE_KEY),
        ]
    )
    accepted, quarantined = ingest.split_tagged(
        tagged, BRONZE_AD_TOUCHPOINTS_SCHEMA, "ad_touchpoints", RUN_ID, INGESTED_AT
    )
    assert accepted.columns == BRONZE_AD_TOUCHPOINTS_SCHEMA.fieldNames()
    by_id = {r["touch_id"]: r for r in accepted.collect()}
    assert sorted(by_id) == ["t1", "t5", "t6"]
    assert by_id["t5"]["device_key"] is None and by_id["t1"]["device_key"] is not None
    assert str(by_id["t1"]["touch_date"]) == "2020-12-19"
    assert quarantined.count() == 5
    tagged.unpersist()


def test_ad_touch_times_are_bounded_like_event_times(spark: SparkSession) -> None:
    limits = EventLimits(earliest=datetime(2020, 1, 1), latest=datetime(2021, 2, 1, 6))
    rows = [
        ("old", datetime(2019, 12, 31, 23, 59, 59), "click"),
        ("first", datetime(2020, 1, 1), "click"),  # both bounds are accepted
        ("last", datetime(2021, 2, 1, 6), "click"),
        ("future", datetime(2021, 2, 1, 6, 0, 1), "click"),
        ("far", datetime(2100, 1, 1), "impression"),
    ]
    df = spark.createDataFrame(
        [(t, ts, kind, None, None, None, None, "dev-1", None, 1.0, "USD") for t, ts, kind in rows],
        AD_TOUCHPOINTS_SCHEMA,
    ).withColumn("source_file", F.lit("file:/ads/a.parquet"))
    spec = ingest.SOURCE_SPECS["ad_touchpoints"]
    bounded = {r["touch_id"]: r["_reason"] for r in ingest.tag_source_records(df, spec, limits).collect()}
    assert bounded == {
        "old": ingest.TIMESTAMP_TOO_OLD,
        "first": None,
        "last": None,
        "future": ingest.FUTURE_TIMESTAMP,
        "far": ingest.FUTURE_TIMESTAMP,
    }
    # Without limits (a caller that has no run time) only the static rules apply.
    assert {r["_reason"] for r in ingest.tag_source_records(df, spec).collect()} == {None}


def test_file_selection_new_changed_and_date_range(spark: SparkSession) -> None:
    mtime = datetime(2021, 1, 1)
    listed = spark.createDataFrame(
        [
            ("ga4", "file:/g/events_20201219.parquet", 10, mtime),  # seen, unchanged
            ("ga4", "file:/g/events_20201220.parquet", 11, mtime),  # seen, size changed
            ("ga4", "file:/g/events_20201221.parquet", 12, mtime),  # new
            ("ad_touchpoints", "file:/a/part-0.parquet", 5, mtime),  # undated, seen
            ("ga4", "file:/g/events_20201222.parquet/part-0.parquet", 5, mtime),  # dated by its folder, new
        ],
        LISTED_FILES_SCHEMA,
    )
    processed = spark.createDataFrame(
        [
            ("ga4", "file:/g/events_20201219.parquet", 10, mtime, 3, "r0", mtime),
            ("ga4", "file:/g/events_20201220.parquet", 99, mtime, 3, "r0", mtime),
            ("ad_touchpoints", "file:/a/part-0.parquet", 5, mtime, 3, "r0", mtime),
        ],
        INGEST_FILES_SCHEMA,
    )

    def paths(from_date: date | None, to_date: date | None) -> list[str]:
        chosen = ingest.select_files_to_ingest(listed, processed, from_date, to_date)
        return sorted(r["path"].rsplit("/", 1)[1] for r in chosen.collect())

    assert paths(None, None) == ["events_20201220.parquet", "events_20201221.parquet", "part-0.parquet"]
    # A range re-reads its days even when unchanged (boundaries included); undated files follow the watermark.
    assert paths(date(2020, 12, 19), date(2020, 12, 20)) == ["events_20201219.parquet", "events_20201220.parquet"]
    assert paths(date(2020, 12, 21), None) == ["events_20201221.parquet", "part-0.parquet"]
    assert paths(None, date(2020, 12, 18)) == []


def test_watermark_rows_count_every_read_file(spark: SparkSession) -> None:
    mtime = datetime(2021, 1, 1)
    files = spark.createDataFrame(
        [("ga4", "file:/g/a.parquet", 1, mtime), ("ga4", "file:/g/empty.parquet", 1, mtime)], LISTED_FILES_SCHEMA
    )
    per_file = spark.createDataFrame([("file:/g/a.parquet", 7)], "source_file string, rows long")
    rows = ingest.ingest_file_rows(files, per_file, RUN_ID, INGESTED_AT)
    assert rows.columns == INGEST_FILES_SCHEMA.fieldNames()
    assert sorted((r["path"], r["rows"], r["run_id"]) for r in rows.collect()) == [
        ("file:/g/a.parquet", 7, RUN_ID),
        ("file:/g/empty.parquet", 0, RUN_ID),
    ]


def test_backend_files_are_found_through_the_lake_listing(spark: SparkSession, tmp_path: Path) -> None:
    """The sample's backend tables are read from any store (listed through Hadoop, so a file: URI works like a
    gs:// one); an absent table is None, marker files are skipped."""
    users = BACKEND_TABLES[0]
    assert read_backend_table_files(spark, str(tmp_path), users) is None
    folder = tmp_path / "backend" / users.name
    folder.mkdir(parents=True)
    (folder / "_SUCCESS").write_text("")
    assert read_backend_table_files(spark, tmp_path.as_uri(), users) is None
    row = {f.name: None for f in users.schema.fields} | {"user_id": 7}
    spark.createDataFrame([row], users.schema).write.parquet(str(folder / "part"))
    frame = read_backend_table_files(spark, tmp_path.as_uri(), users)
    assert frame is not None
    assert frame.schema.simpleString() == users.schema.simpleString()
    assert [r["user_id"] for r in frame.collect()] == [7]
