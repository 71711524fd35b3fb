"""Identity rules on tiny hand-built frames: edges, key collisions, guards, the component
cap, the survivor rule for canonical ids, and pairwise scoring."""

from __future__ import annotations

import dataclasses
from datetime import datetime

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from journeylake import identity, keys
from journeylake.config import IdentityConfig
from journeylake.schemas import identity as S

pytestmark = pytest.mark.unit

EVENTS_DDL = (
    "user_pseudo_id string, user_id string, hashed_email string, hashed_phone string, "
    "device_fingerprint string, gclid string, transaction_id string, event_ts timestamp"
)
T1, T2, T3 = datetime(2024, 1, 1), datetime(2024, 1, 2), datetime(2024, 1, 3)


def _edge(src: tuple[str, str], dst: tuple[str, str], edge_type: str, method: str = S.DETERMINISTIC) -> tuple:
    return (src[0], src[1], dst[0], dst[1], edge_type, method)


def _edges(spark: SparkSession, rows: list[tuple]) -> DataFrame:
    """Edges in IDENTITY_EDGES_SCHEMA from (src_type, src_value, dst_type, dst_value, edge_type, method)."""
    frame = spark.createDataFrame(rows, "st string, sv string, dt string, dv string, et string, m string")
    return frame.select(
        F.col("st").alias("src_type"),
        F.col("sv").alias("src_value"),
        identity.node_key(F.col("st"), F.col("sv")).alias("src_key"),
        F.col("dt").alias("dst_type"),
        F.col("dv").alias("dst_value"),
        identity.node_key(F.col("dt"), F.col("dv")).alias("dst_key"),
        F.col("et").alias("edge_type"),
        F.lit(1.0).alias("confidence"),
        F.col("m").alias("method"),
        F.lit(T1).alias("first_seen"),
        F.lit(T2).alias("last_seen"),
    )


def test_node_key_equals_keys_key_of(spark: SparkSession) -> None:
    frame = spark.createDataFrame([("device", "abc"), ("login", "abc"), ("gclid", None)], "t string, v string")
    rows = frame.select(
        identity.node_key(F.col("t"), F.col("v")).alias("dynamic"),
        F.when(F.col("t") == "device", keys.key_of(keys.DEVICE, F.col("v")))
        .when(F.col("t") == "login", keys.key_of(keys.LOGIN, F.col("v")))
        .otherwise(keys.key_of(keys.GCLID, F.col("v")))
        .alias("static"),
    ).collect()
    assert [(r["dynamic"], r["static"]) for r in rows] == [(r["static"], r["static"]) for r in rows]
    assert rows[0]["dynamic"] != rows[1]["dynamic"], "the type is part of the key"
    assert rows[2]["dynamic"] is None


def test_edges_and_nodes_from_bronze(spark: SparkSession) -> None:
    events = spark.createDataFrame(
        [
            ("d1", "L1", None, None, "FP", "G1", None, T2),
            ("d1", "L1", None, None, None, None, None, T1),  # same link seen earlier
            ("d1", "L1", None, None, None, None, None, T1),  # duplicate event
            ("d2", None, "E1", "P1", "FP", None, "TX1", T3),
            ("d3", None, None, None, None, None, None, T3),  # a device with no identifier
        ],
        EVENTS_DDL,
    )
    touches = spark.createDataFrame(
        [("d9", "G9", T1), (None, "G8", T2), ("d1", None, T3)],
        "user_pseudo_id string, gclid string, touch_ts timestamp",
    )
    orders = spark.createDataFrame(
        [(900, 100, "TX1", T2), (901, 100, None, None)],
        "order_id long, user_id long, ga_transaction_id string, order_ts timestamp",
    )
    users = spark.createDataFrame([(100, "L1", T1)], "user_id long, login_id string, created_at timestamp")
    observations = identity.identity_observations(events, touches, orders, users, include_fingerprints=False)
    edges = identity.build_identity_edges(observations)
    got = {
        (r["src_value"], r["dst_value"], r["edge_type"]): (
            r["first_seen"],
            r["last_seen"],
            r["confidence"],
            r["method"],
        )
        for r in edges.collect()
    }
    unknown = datetime(1970, 1, 1)
    assert got == {
        ("d1", "L1", S.DEVICE_LOGIN): (T1, T2, 1.0, S.DETERMINISTIC),
        ("d1", "G1", S.DEVICE_GCLID): (T2, T2, 0.95, S.DETERMINISTIC),
        ("d9", "G9", S.DEVICE_GCLID): (T1, T1, 0.95, S.DETERMINISTIC),
        ("d2", "E1", S.DEVICE_EMAIL): (T3, T3, 0.95, S.DETERMINISTIC),
        ("d2", "P1", S.DEVICE_PHONE): (T3, T3, 0.9, S.DETERMINISTIC),
        ("d2", "TX1", S.DEVICE_TRANSACTION): (T3, T3, 1.0, S.DETERMINISTIC),
        ("TX1", "900", S.TRANSACTION_ORDER): (T2, T2, 1.0, S.DETERMINISTIC),
        ("900", "100", S.ORDER_BACKEND_USER): (T2, T2, 1.0, S.DETERMINISTIC),
        ("901", "100", S.ORDER_BACKEND_USER): (unknown, unknown, 1.0, S.DETERMINISTIC),  # null time: oldest
        ("100", "L1", S.BACKEND_USER_LOGIN): (T1, T1, 1.0, S.DETERMINISTIC),
    }
    nodes = {
        (r["id_type"], r["id_value"]): (r["first_seen"], r["last_seen"])
        for r in identity.build_identity_nodes(observations).collect()
    }
    assert nodes[(keys.DEVICE, "d1")] == (T1, T3)  # the touch on day 3 counts as a sighting
    assert nodes[(keys.DEVICE, "d3")] == (T3, T3)  # isolated devices are nodes too
    assert nodes[(keys.GCLID, "G8")] == (T2, T2)  # a click without a device is a node
    assert (keys.FINGERPRINT, "FP") not in nodes

    with_fp = identity.build_identity_edges(
        identity.identity_observations(events, touches, orders, users, include_fingerprints=True)
    ).where(F.col("edge_type") == S.DEVICE_FINGERPRINT)
    assert sorted((r["src_value"], r["method"], r["confidence"]) for r in with_fp.collect()) == [
        ("d1", S.PROBABILISTIC, 0.6),
        ("d2", S.PROBABILISTIC, 0.6),
    ]


def test_key_collision_fails_loudly(spark: SparkSession) -> None:
    nodes = spark.createDataFrame(
        [("device", "a", 7, T1, T1), ("login", "b", 7, T1, T1), ("device", "a", 7, T1, T2), ("device", "c", 8, T1, T1)],
        S.IDENTITY_NODES_SCHEMA,
    )
    assert [(r["node_key"], r["identifiers"]) for r in identity.find_key_collisions(nodes).collect()] == [(7, 2)]
    with pytest.raises(identity.IdentityKeyCollisionError, match="7 \\(2 identifiers\\)"):
        identity.check_key_collisions(nodes)
    identity.check_key_collisions(nodes.where(F.col("node_key") == 8))  # no collision: no error


def test_guards_block_placeholders_and_cut_over_cap_identifiers(spark: SparkSession) -> None:
    config = dataclasses.replace(
        IdentityConfig(), max_devices_per_login=2, max_logins_per_device=2, max_devices_per_email=2
    )
    dev = lambda name: (keys.DEVICE, name)  # noqa: E731
    rows = [
        # blocked values, whatever their case and padding
        _edge(dev("a"), (keys.LOGIN, " Unknown "), S.DEVICE_LOGIN),
        _edge(dev("a"), (keys.TRANSACTION, "(not set)"), S.DEVICE_TRANSACTION),
        _edge(dev("a"), (keys.LOGIN, "000-000"), S.DEVICE_LOGIN),
        _edge(dev("a"), (keys.LOGIN, "test.user@example.com"), S.DEVICE_LOGIN),
        _edge(dev("a"), (keys.EMAIL, "hash-of-test-email"), S.DEVICE_EMAIL),
        _edge(dev("0"), (keys.PHONE, "P9"), S.DEVICE_PHONE),  # a blocked device id cuts its edges too
        # login L1 exactly at its cap (2 devices, plus its blocked-device edge that does not count): kept
        _edge(dev("b"), (keys.LOGIN, "L1"), S.DEVICE_LOGIN),
        _edge(dev("c"), (keys.LOGIN, "L1"), S.DEVICE_LOGIN),
        _edge(dev("unknown"), (keys.LOGIN, "L1"), S.DEVICE_LOGIN),
        # e-mail E1 over its cap (3 devices): every edge of E1 goes, the devices' other edges stay
        _edge(dev("d"), (keys.EMAIL, "E1"), S.DEVICE_EMAIL),
        _edge(dev("e"), (keys.EMAIL, "E1"), S.DEVICE_EMAIL),
        _edge(dev("f"), (keys.EMAIL, "E1"), S.DEVICE_EMAIL),
        _edge(dev("d"), (keys.PHONE, "P1"), S.DEVICE_PHONE),
        # shared tablet with 3 logins > 2: all its edges go (its phone too); logins keep other devices
        _edge(dev("tablet"), (keys.LOGIN, "L2"), S.DEVICE_LOGIN),
        _edge(dev("tablet"), (keys.LOGIN, "L3"), S.DEVICE_LOGIN),
        _edge(dev("tablet"), (keys.LOGIN, "L4"), S.DEVICE_LOGIN),
        _edge(dev("tablet"), (keys.PHONE, "P2"), S.DEVICE_PHONE),
        _edge(dev("g"), (keys.LOGIN, "L2"), S.DEVICE_LOGIN),
        # a device exactly at the login cap keeps its logins
        _edge(dev("h"), (keys.LOGIN, "L5"), S.DEVICE_LOGIN),
        _edge(dev("h"), (keys.LOGIN, "L6"), S.DEVICE_LOGIN),
        # fingerprints are off by default
        _edge(dev("h"), (keys.FINGERPRINT, "FP"), S.DEVICE_FINGERPRINT, S.PROBABILISTIC),
    ]
    kept, cut = identity.apply_guards(_edges(spark, rows), config, blocked_email_hashes=["hash-of-test-email"])
    reasons = {(r["src_value"], r["dst_value"]): r["reason"] for r in cut.collect()}
    assert reasons == {
        ("a", " Unknown "): S.BLOCKED_VALUE,
        ("a", "(not set)"): S.BLOCKED_VALUE,
        ("a", "000-000"): S.BLOCKED_VALUE,
        ("a", "test.user@example.com"): S.BLOCKED_VALUE,
        ("a", "hash-of-test-email"): S.BLOCKED_VALUE,
        ("0", "P9"): S.BLOCKED_VALUE,
        ("unknown", "L1"): S.BLOCKED_VALUE,
        ("d", "E1"): "degree_cap:email",
        ("e", "E1"): "degree_cap:email",
        ("f", "E1"): "degree_cap:email",
        ("tablet", "L2"): "degree_cap:device",
        ("tablet", "L3"): "degree_cap:device",
        ("tablet", "L4"): "degree_cap:device",
        ("tablet", "P2"): "degree_cap:device",
        ("h", "FP"): S.BLOCKED_VALUE,
    }
    assert sorted((r["src_value"], r["dst_value"]) for r in kept.collect()) == [
        ("b", "L1"),
        ("c", "L1"),
        ("d", "P1"),
        ("g", "L2"),
        ("h", "L5"),
        ("h", "L6"),
    ]


def test_component_cap_drops_weak_edges_then_everything(spark: SparkSession) -> None:
    config = dataclasses.replace(IdentityConfig(), max_component_size=3)
    dev = lambda name: (keys.DEVICE, name)  # noqa: E731
    rows = [
        # 5 nodes: over the cap; without the fingerprint edges it falls into parts of 3, 1 and 1
        _edge(dev("a"), (keys.LOGIN, "L1"), S.DEVICE_LOGIN),
        _edge(dev("b"), (keys.LOGIN, "L1"), S.DEVICE_LOGIN),
        _edge(dev("a"), (keys.FINGERPRINT, "F1"), S.DEVICE_FINGERPRINT, S.PROBABILISTIC),
        _edge(dev("c"), (keys.FINGERPRINT, "F1"), S.DEVICE_FINGERPRINT, S.PROBABILISTIC),
        # 4 deterministic nodes: still over the cap after dropping weak edges, so all go
        _edge(dev("x"), (keys.EMAIL, "E1"), S.DEVICE_EMAIL),
        _edge(dev("y"), (keys.EMAIL, "E1"), S.DEVICE_EMAIL),
        _edge(dev("z"), (keys.EMAIL, "E1"), S.DEVICE_EMAIL),
        # exactly at the cap: untouched
        _edge(dev("p"), (keys.PHONE, "P1"), S.DEVICE_PHONE),
        _edge(dev("q"), (keys.PHONE, "P1"), S.DEVICE_PHONE),
    ]
    edges = _edges(spark, rows)
    scope = edges.select(F.col("src_key").alias("node_key")).union(edges.select("dst_key")).distinct()
    partition, cut = identity.solve_components(scope, edges, config)
    names = {r["src_key"]: r["src_value"] for r in edges.collect()} | {
        r["dst_key"]: r["dst_value"] for r in edges.collect()
    }
    groups: dict[int, set[str]] = {}
    cap_groups: dict[str, int | None] = {}
    for row in partition.collect():
        groups.setdefault(row["component"], set()).add(names[row["node_key"]])
        cap_groups[names[row["node_key"]]] = row["cap_group_id"]
    assert sorted(sorted(g) for g in groups.values()) == sorted(
        [["L1", "a", "b"], ["F1"], ["c"], ["x"], ["y"], ["z"], ["E1"], ["P1", "p", "q"]]
    )
    assert len({cap_groups[n] for n in ("a", "b", "c", "L1", "F1")}) == 1
    assert len({cap_groups[n] for n in ("x", "y", "z", "E1")}) == 1
    assert cap_groups["a"] != cap_groups["x"] and cap_groups["a"] is not None
    assert cap_groups["p"] is None
    assert sorted((r["src_value"], r["dst_value"], r["reason"]) for r in cut.collect()) == [
        ("a", "F1", S.COMPONENT_CAP),
        ("c", "F1", S.COMPONENT_CAP),
        ("x", "E1", S.COMPONENT_CAP),
        ("y", "E1", S.COMPONENT_CAP),
        ("z", "E1", S.COMPONENT_CAP),
    ]


def _assign(
    spark: SparkSession, partition: list[tuple[int, int]], previous: list[tuple[int, int, datetime]], issued: list[int]
) -> tuple[dict[int, int], set[tuple[int, int, str]]]:
    part = spark.createDataFrame([(n, c, None) for n, c in partition], S.PARTITION_SCHEMA)
    prev = spark.createDataFrame(previous, "node_key long, canonical_user_id long, first_seen timestamp")
    used = spark.createDataFrame([(i,) for i in issued], "canonical_user_id long")
    assignment, changes = identity.assign_canonical_ids(part, prev, used)
    ids = {r["node_key"]: r["canonical_user_id"] for r in assignment.collect()}
    return ids, {(r["old_canonical_user_id"], r["new_canonical_user_id"], r["change"]) for r in changes.collect()}


def test_merge_of_two_old_components_keeps_the_oldest_id(spark: SparkSession) -> None:
    # Old ids 10 (first seen T2) and 20 (first seen T1) merge with new node 5: 20 is older and survives.
    ids, changes = _assign(
        spark,
        partition=[(5, 5), (10, 5), (11, 5), (20, 5), (21, 5)],
        previous=[(10, 10, T2), (11, 10, T3), (20, 20, T1), (21, 20, T3)],
        issued=[10, 20],
    )
    assert ids == {5: 20, 10: 20, 11: 20, 20: 20, 21: 20}
    assert changes == {(10, 20, S.MERGE)}


def test_merge_tie_on_first_seen_keeps_the_smaller_id(spark: SparkSession) -> None:
    ids, changes = _assign(
        spark, partition=[(30, 30), (40, 30)], previous=[(30, 30, T1), (40, 40, T1)], issued=[30, 40]
    )
    assert set(ids.values()) == {30}
    assert changes == {(40, 30, S.MERGE)}


def test_split_keeps_the_id_with_its_anchor_and_never_reissues(spark: SparkSession) -> None:
    # Old person 50 = {50, 51, 60}; node 60 was merged in from old id 60 earlier (so 60 is retired).
    # It splits into {50}, {51} and {60}: 50 keeps its id, 51 gets its own key, and 60 must not
    # get back the retired id 60.
    ids, changes = _assign(
        spark,
        partition=[(50, 50), (51, 51), (60, 60), (70, 70)],
        previous=[(50, 50, T2), (51, 50, T1), (60, 50, T1)],
        issued=[50, 60],
    )
    assert ids[50] == 50
    assert ids[51] == 51
    assert ids[60] not in (50, 51, 60)
    assert ids[70] == 70  # a brand-new node gets its own key
    assert changes == {(50, 51, S.SPLIT), (50, ids[60], S.SPLIT)}


def test_unchanged_component_keeps_its_id_without_changes(spark: SparkSession) -> None:
    # The anchor (node 99 itself) is gone from the scope: the earliest member holds the id.
    ids, changes = _assign(spark, partition=[(7, 7), (8, 7)], previous=[(7, 99, T2), (8, 99, T1)], issued=[99])
    assert ids == {7: 99, 8: 99}
    assert changes == set()


def test_pairwise_scores_on_a_tiny_truth(spark: SparkSession) -> None:
    truth = spark.createDataFrame(
        [
            ("a1", "A", False, True),
            ("a2", "A", False, True),
            ("a3", "A", False, True),
            ("b1", "B", False, True),
            ("b2", "B", False, False),  # not linkable: its pairs do not count against recall
            ("c1", "C", False, True),
            ("bot", "X", True, True),  # bots are left out
            ("gone", "C", False, True),  # missing from the map: shares no id
        ],
        "user_pseudo_id string, person_id string, is_bot boolean, linkable boolean",
    )
    identity_map = spark.createDataFrame(
        [("device", d, c) for d, c in [("a1", 1), ("a2", 1), ("a3", 3), ("b1", 1), ("b2", 2), ("c1", 4), ("bot", 1)]]
        + [("login", "a1", 9)],
        "id_type string, id_value string, canonical_user_id long",
    )
    score = identity.score_identity_pairs(truth, identity_map)
    # Predicted pairs: {a1, a2, b1} -> 3 pairs, of which a1-a2 is true.
    # Truth pairs among linkable: A has 3 (a1a2, a1a3, a2a3), C has 1 (c1, gone): 4; found: a1a2.
    assert (score.predicted_pairs, score.true_pairs, score.truth_pairs, score.true_linkable_pairs) == (3, 1, 4, 1)
    assert score.line() == "precision=0.3333 recall=0.2500"


def test_scores_are_one_when_there_is_nothing_to_judge(spark: SparkSession) -> None:
    truth = spark.createDataFrame(
        [("a1", "A", False, True)], "user_pseudo_id string, person_id string, is_bot boolean, linkable boolean"
    )
    identity_map = spark.createDataFrame(
        [("device", "a1", 1)], "id_type string, id_value string, canonical_user_id long"
    )
    assert identity.score_identity_pairs(truth, identity_map).line() == "precision=1.0000 recall=1.0000"
