"""The identity stage on a tiny hand-built lake: incremental runs equal a full rebuild,
survivor rule on a merge of two old components, a split by a degree cap, a shared
tablet, blocked values, stable ids for untouched users, idempotent reruns."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from journeylake.config import PipelineConfig
from journeylake.io.delta import overwrite_table, read_table, table_path
from journeylake.schemas.sources import BACKEND_ORDERS_SCHEMA, BACKEND_USERS_SCHEMA
from journeylake.stages import RunContext
from journeylake.stages import identity as stage

pytestmark = pytest.mark.unit

EVENTS_DDL = (
    "user_pseudo_id string, user_id string, hashed_email string, hashed_phone string, "
    "device_fingerprint string, gclid string, transaction_id string, event_ts timestamp"
)
TOUCH_DDL = "touch_id string, touch_ts timestamp, user_pseudo_id string, gclid string"


def day(n: int) -> datetime:
    return datetime(2024, 3, n, 12, 0, 0)


def ev(device: str, ts: int, login: str | None = None, email: str | None = None, **more: str) -> tuple:
    return (
        device,
        login,
        email,
        more.get("phone"),
        more.get("fingerprint"),
        more.get("gclid"),
        more.get("transaction"),
        day(ts),
    )


BATCH_1 = [
    ev("d1", 1, login="L1"),
    ev("d1", 1, login="L1"),  # duplicate event
    ev("d2", 2, login="L1"),  # person A = {d1, d2, L1}, plus d11 via the backend below
    ev("d3", 1, email="E1"),
    ev("d4", 3, email="E1"),  # person B = {d3, d4}, first seen day 1
    ev("d5", 2, fingerprint="FP1"),  # alone: fingerprint edges are off by default
    ev("d3", 2, fingerprint="FP1"),
    ev("d6", 4, phone="P1"),  # person C = {d6}, first seen day 4
    ev("T", 1, login="L2"),  # shared tablet: 4 logins > max_logins_per_device (3)
    ev("T", 1, login="L3"),
    ev("T", 2, login="L4"),
    ev("T", 2, login="L5"),
    ev("d7", 3, login="L2"),
    ev("d8", 3, login="L3"),
    ev("d9", 3, transaction="(not set)"),  # a placeholder must not link d9 and d10
    ev("d10", 3, transaction=" (NOT SET) "),
    ev("d11", 4, transaction="TX1"),  # joins A through order 900 of backend user 100 (login L1)
]
BATCH_2 = [
    ev("d6", 5, email="E1"),  # merges C into B: B is older and survives
    ev("d12", 6, login="L1"),
    ev("d13", 6, login="L1"),  # L1 now on 4 devices > max_devices_per_login (3): A splits
    ev("d14", 6),  # a new device alone
]
TOUCHES = [("t1", day(2), "d5", "G1"), ("t2", day(3), None, "G2")]


def _config(lake: Path) -> PipelineConfig:
    config = PipelineConfig()
    return dataclasses.replace(
        config,
        lake=dataclasses.replace(config.lake, root=str(lake)),
        identity=dataclasses.replace(config.identity, max_devices_per_login=3),
    )


def _write_bronze(spark: SparkSession, lake: Path, events: list[tuple]) -> None:
    overwrite_table(spark.createDataFrame(events, EVENTS_DDL), table_path(lake, "bronze", "events"))
    overwrite_table(spark.createDataFrame(TOUCHES, TOUCH_DDL), table_path(lake, "bronze", "ad_touchpoints"))
    users = spark.createDataFrame([(100, "L1", None, day(1), "DE")], BACKEND_USERS_SCHEMA)
    orders = spark.createDataFrame([(900, 100, "TX1", day(4), "paid", 10.0, "EUR")], BACKEND_ORDERS_SCHEMA)
    overwrite_table(users, table_path(lake, "bronze", "backend_users"))
    overwrite_table(orders, table_path(lake, "bronze", "backend_orders"))


def _run(spark: SparkSession, lake: Path, run_id: str, as_of: int) -> stage.StageResult:
    return stage.run(RunContext(spark=spark, config=_config(lake), run_id=run_id, as_of=day(as_of)))


def _table(spark: SparkSession, lake: Path, name: str) -> DataFrame:
    return read_table(spark, table_path(lake, "silver", name))


def _ids(spark: SparkSession, lake: Path) -> dict[tuple[str, str], int]:
    rows = _table(spark, lake, "identity_map").select("id_type", "id_value", "canonical_user_id").collect()
    return {(r["id_type"], r["id_value"]): r["canonical_user_id"] for r in rows}


def _partition(ids: dict[tuple[str, str], int]) -> set[frozenset[tuple[str, str]]]:
    groups: dict[int, set[tuple[str, str]]] = {}
    for node, canonical in ids.items():
        groups.setdefault(canonical, set()).add(node)
    return {frozenset(g) for g in groups.values()}


def _devices(*names: str) -> frozenset[tuple[str, str]]:
    return frozenset(("device", n) for n in names)


def _group_of(partition: Iterable[frozenset[tuple[str, str]]], node: tuple[str, str]) -> frozenset[tuple[str, str]]:
    return next(g for g in partition if node in g)


@pytest.fixture(scope="module")
def lakes(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Two batches run incrementally into one lake, and the union rebuilt from scratch in another."""
    incremental = tmp_path_factory.mktemp("incremental")
    full = tmp_path_factory.mktemp("full")
    _write_bronze(spark, incremental, BATCH_1)
    first = _run(spark, incremental, "run-1", 4)
    ids_after_first = _ids(spark, incremental)
    _write_bronze(spark, incremental, BATCH_1 + BATCH_2)
    second = _run(spark, incremental, "run-2", 6)
    _write_bronze(spark, full, BATCH_1 + BATCH_2)
    rebuilt = _run(spark, full, "full-1", 6)
    return {
        "incremental": incremental,
        "full": full,
        "first": first,
        "second": second,
        "rebuilt": rebuilt,
        "ids_after_first": ids_after_first,
    }


def test_first_run_groups_persons_and_respects_guards(lakes: dict[str, object]) -> None:
    partition = _partition(lakes["ids_after_first"])  # type: ignore[arg-type]
    person_a = _group_of(partition, ("device", "d1"))
    assert _devices("d1", "d2", "d11") <= person_a
    assert {("login", "L1"), ("backend_user", "100"), ("backend_order", "900"), ("transaction", "TX1")} <= person_a
    assert _group_of(partition, ("device", "d3")) == _devices("d3", "d4") | {("email", "E1")}
    assert _group_of(partition, ("device", "d6")) == _devices("d6") | {("phone", "P1")}
    # The shared tablet links nobody; its logins stay with their own devices.
    assert _group_of(partition, ("device", "T")) == _devices("T")
    assert _group_of(partition, ("device", "d7")) == _devices("d7") | {("login", "L2")}
    assert _group_of(partition, ("login", "L4")) == {("login", "L4")}
    # Blocked transaction ids and the fingerprint leave d9, d10 and d5 alone (d5 keeps its click).
    assert _group_of(partition, ("device", "d9")) == _devices("d9")
    assert _group_of(partition, ("device", "d10")) == _devices("d10")
    assert _group_of(partition, ("device", "d5")) == _devices("d5") | {("gclid", "G1")}
    assert _group_of(partition, ("gclid", "G2")) == {("gclid", "G2")}
    assert ("fingerprint", "FP1") not in lakes["ids_after_first"]  # type: ignore[operator]


def test_incremental_run_equals_full_rebuild(spark: SparkSession, lakes: dict[str, object]) -> None:
    incremental = _partition(_ids(spark, lakes["incremental"]))  # type: ignore[arg-type]
    full = _partition(_ids(spark, lakes["full"]))  # type: ignore[arg-type]
    assert incremental == full
    # The second batch really changed the graph: B absorbed C, and A fell apart at L1.
    assert _group_of(full, ("device", "d6")) == _devices("d3", "d4", "d6") | {("email", "E1"), ("phone", "P1")}
    assert _group_of(full, ("device", "d1")) == _devices("d1")
    assert _group_of(full, ("device", "d11")) == _devices("d11") | {
        ("transaction", "TX1"),
        ("backend_order", "900"),
        ("backend_user", "100"),
    }


def test_merge_keeps_the_oldest_id_and_untouched_users_keep_theirs(spark: SparkSession, lakes: dict) -> None:
    before, after = lakes["ids_after_first"], _ids(spark, lakes["incremental"])
    id_b, id_c = before[("device", "d3")], before[("device", "d6")]
    assert id_b != id_c
    assert after[("device", "d6")] == id_b  # B (first seen day 1) outlives C (day 4)
    for untouched in [("device", "d5"), ("device", "d7"), ("device", "T"), ("gclid", "G2"), ("login", "L4")]:
        assert after[untouched] == before[untouched]
    merges = _table(spark, lakes["incremental"], "identity_merges").where(F.col("run_id") == "run-2")
    merge_rows = merges.where(F.col("change") == "merge").collect()
    assert [(r["old_canonical_user_id"], r["new_canonical_user_id"]) for r in merge_rows] == [(id_c, id_b)]
    assert "device_email added" in merge_rows[0]["cause"]


def test_split_keeps_the_id_in_one_part_and_issues_new_ids(spark: SparkSession, lakes: dict) -> None:
    before, after = lakes["ids_after_first"], _ids(spark, lakes["incremental"])
    id_a = before[("device", "d1")]
    parts = ["d1", "d2", "d11"]
    new_ids = {after[("device", d)] for d in parts}
    assert len(new_ids) == 3, "A's devices are now three persons"
    assert id_a in new_ids, "one part keeps A's id"
    previously_issued = set(before.values())
    assert not (new_ids - {id_a}) & previously_issued, "new ids never reuse an id issued before"
    splits = (
        _table(spark, lakes["incremental"], "identity_merges")
        .where((F.col("run_id") == "run-2") & (F.col("change") == "split"))
        .collect()
    )
    assert {r["old_canonical_user_id"] for r in splits} == {id_a}
    # d1, d2 and d11's part lose A's id (two of them) plus L1 and the new devices' parts as they form.
    assert (new_ids - {id_a}) <= {r["new_canonical_user_id"] for r in splits}
    assert all("degree_cap:login" in r["cause"] for r in splits)


def test_audit_lists_cut_edges_with_reasons(spark: SparkSession, lakes: dict) -> None:
    audit = _table(spark, lakes["incremental"], "identity_audit")
    first = {(r["src_value"], r["dst_value"], r["reason"]) for r in audit.where(F.col("run_id") == "run-1").collect()}
    assert ("d9", "(not set)", "blocked_value") in first
    assert ("d10", " (NOT SET) ", "blocked_value") in first
    assert {("T", f"L{n}", "degree_cap:device") for n in range(2, 6)} <= first
    second = {(r["src_value"], r["dst_value"], r["reason"]) for r in audit.where(F.col("run_id") == "run-2").collect()}
    # The L1 edges (and L1's backend account) are cut in run 2; earlier cuts are not repeated.
    assert {
        ("d1", "L1", "degree_cap:login"),
        ("d13", "L1", "degree_cap:login"),
        ("100", "L1", "degree_cap:login"),
    } <= second
    assert not any(value == "T" for value, _, _ in second)


def test_every_device_has_a_row_and_health_is_reported(spark: SparkSession, lakes: dict) -> None:
    identity_map = _table(spark, lakes["incremental"], "identity_map")
    devices = {r["id_value"] for r in identity_map.where(F.col("id_type") == "device").collect()}
    assert devices == {e[0] for e in BATCH_1 + BATCH_2}
    assert identity_map.where(F.col("canonical_user_id").isNull()).count() == 0
    second = lakes["second"]
    assert second.details["merges"] == 1
    assert second.details["splits"] >= 2
    assert second.details["largest_component"] == 5  # B: d3, d4, d6, E1, P1
    assert second.details["max_degree_by_type"]["email"] == 3
    assert sum(second.details["component_sizes"].values()) == second.details["canonical_users"]


def test_rerun_of_the_same_input_changes_nothing(spark: SparkSession, lakes: dict) -> None:
    lake = lakes["incremental"]
    before = _ids(spark, lake)
    tables = ("identity_map", "identity_edges", "identity_merges", "identity_audit")

    def versions() -> dict[str, int]:
        latest = {}
        for name in tables:
            history = spark.sql(f"DESCRIBE HISTORY delta.`{table_path(lake, 'silver', name)}`")
            latest[name] = history.agg(F.max("version")).first()[0]
        return latest

    versions_before = versions()
    result = _run(spark, lake, "run-3", 6)
    assert result.rows_in["scope_nodes"] == 0
    assert _ids(spark, lake) == before
    assert _table(spark, lake, "identity_merges").where(F.col("run_id") == "run-3").count() == 0
    assert versions() == versions_before  # nothing committed at all
    assert set(result.rows_out.values()) == {0}
