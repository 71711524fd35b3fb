"""The sample-world generator: determinism, the real GA4 schema, and the invariants of its ground truth."""

from __future__ import annotations

import collections
import hashlib
import itertools
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest
from conftest import GA4_SAMPLE_DIR, requires_ga4_sample
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql.pandas.types import to_arrow_schema

from journeylake.config import PipelineConfig, with_overrides
from journeylake.sample import SampleParams, generate_world
from journeylake.sample.catalog import EMAIL_PLACEHOLDERS, USER_ID_PLACEHOLDERS
from journeylake.sample.ga4 import strip_nullability
from journeylake.schemas.ga4 import GA4_EXPORT_SCHEMA
from journeylake.schemas.sources import SOURCE_SCHEMAS
from journeylake.stages import RunContext
from journeylake.stages.sample import run as run_sample_stage

pytestmark = pytest.mark.unit

TINY = SampleParams(seed=42, scale=0.05)
SESSION_TIMEOUT_MICROS = 30 * 60 * 1_000_000
JOURNEY_TIMEOUT_MICROS = 14 * 86_400 * 1_000_000
REAL_FILE = GA4_SAMPLE_DIR / "events_20201219.parquet"
IDENTITY_EVENTS = ("login", "sign_up")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("sample") / "world"
    return out, generate_world(out, TINY)


@pytest.fixture(scope="module")
def ga4(world: tuple[Path, dict[str, Any]]) -> pa.Table:
    """All GA4 rows, files in name order, with the file's day beside each row."""
    out, _ = world
    tables = []
    for path in sorted((out / "ga4").glob("events_*.parquet")):
        table = pq.read_table(path)
        day = path.stem.removeprefix("events_")
        tables.append(table.append_column("file_day", pa.array([day] * table.num_rows, pa.string())))
    return pa.concat_tables(tables)


@pytest.fixture(scope="module")
def truth(world: tuple[Path, dict[str, Any]]) -> dict[str, pa.Table]:
    out, _ = world
    return {
        name: pq.read_table(out / "truth" / f"{name}.parquet")
        for name in ("devices", "identifiers", "events", "orders")
    }


def _param(table: pa.Table, key: str, field: str = "string_value") -> list[Any]:
    """The value of one event_params key for every row (None where absent)."""
    result: list[Any] = []
    for params in table.column("event_params").to_pylist():
        found = [p["value"][field] for p in params if p["key"] == key]
        result.append(found[0] if found else None)
    return result


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# ---- determinism and contract ---------------------------------------------------------------


def test_same_seed_gives_same_bytes_and_another_seed_does_not(tmp_path: Path) -> None:
    small = SampleParams(seed=7, scale=0.02)
    generate_world(tmp_path / "a", small)
    generate_world(tmp_path / "b", small)
    generate_world(tmp_path / "c", SampleParams(seed=8, scale=0.02))
    first, second, other = _files(tmp_path / "a"), _files(tmp_path / "b"), _files(tmp_path / "c")
    assert first.keys() == second.keys()
    assert [name for name in first if first[name] != second[name]] == []
    assert first["ga4/events_20210105.parquet"] != other["ga4/events_20210105.parquet"]


def test_layout_matches_the_contract(world: tuple[Path, dict[str, Any]]) -> None:
    out, manifest = world
    files = set(_files(out))
    expected_ga4 = {f"ga4/events_202101{d:02d}.parquet" for d in range(1, 31)}
    assert expected_ga4 <= files
    for relative in (
        "ad_touchpoints/part-00000.parquet",
        "ad_cost_daily/part-00000.parquet",
        "competitor_exposures/part-00000.parquet",
        "backend/users/part-00000.parquet",
        "backend/orders/part-00000.parquet",
        "backend/order_items/part-00000.parquet",
        "backend_csv/users.csv",
        "backend_csv/orders.csv",
        "backend_csv/order_items.csv",
        "truth/devices.parquet",
        "truth/identifiers.parquet",
        "truth/events.parquet",
        "truth/orders.parquet",
        "manifest.json",
    ):
        assert relative in files
    assert json.loads((out / "manifest.json").read_text()) == manifest
    assert manifest["seed"] == 42 and manifest["scale"] == 0.05
    assert manifest["date_range"] == {"start": "2021-01-01", "end": "2021-01-30", "days": 30}


@pytest.mark.parametrize(
    ("folder", "schema_name"),
    [
        ("ad_touchpoints", "ad_touchpoints"),
        ("ad_cost_daily", "ad_cost_daily"),
        ("competitor_exposures", "competitor_exposures"),
        ("backend/users", "backend_users"),
        ("backend/orders", "backend_orders"),
        ("backend/order_items", "backend_order_items"),
    ],
)
def test_source_files_have_their_contract_schema(
    world: tuple[Path, dict[str, Any]], folder: str, schema_name: str
) -> None:
    out, _ = world
    written = pq.read_schema(out / folder / "part-00000.parquet")
    assert strip_nullability(written) == strip_nullability(to_arrow_schema(SOURCE_SCHEMAS[schema_name]))


@requires_ga4_sample
def test_generated_ga4_schema_equals_the_real_export(world: tuple[Path, dict[str, Any]]) -> None:
    out, _ = world
    generated = pq.read_schema(out / "ga4" / "events_20210110.parquet")
    real = pq.read_schema(REAL_FILE)
    assert strip_nullability(generated) == strip_nullability(real)


@requires_ga4_sample
def test_spark_reads_generated_and_real_files_with_the_export_schema(
    spark: SparkSession, world: tuple[Path, dict[str, Any]]
) -> None:
    out, _ = world
    generated_file = out / "ga4" / "events_20210110.parquet"
    for path in (generated_file, REAL_FILE):
        df = spark.read.schema(GA4_EXPORT_SCHEMA).parquet(str(path))
        session_id = F.filter("event_params", lambda p: p["key"] == "ga_session_id")[0]["value"]["int_value"]
        # One job per file: the machine is shared, and both numbers come from the same scan.
        counts = df.agg(F.count(F.lit(1)).alias("rows"), F.count(session_id).alias("with_session")).first()
        assert counts is not None
        assert counts["rows"] == pq.ParquetFile(path).metadata.num_rows
        assert counts["with_session"] > 0.99 * counts["rows"]
        assert df.schema == GA4_EXPORT_SCHEMA


def test_backend_csv_holds_the_parquet_rows(world: tuple[Path, dict[str, Any]]) -> None:
    out, _ = world
    for table in ("users", "orders", "order_items"):
        parquet = pq.read_table(out / "backend" / table / "part-00000.parquet")
        csv = pa_csv.read_csv(
            out / "backend_csv" / f"{table}.csv",
            convert_options=pa_csv.ConvertOptions(column_types=parquet.schema, strings_can_be_null=True),
        )
        assert csv.column_names == parquet.column_names
        assert csv.equals(parquet.cast(csv.schema))


def test_invalid_parameters_are_rejected() -> None:
    with pytest.raises(ValueError, match="scale must be positive"):
        SampleParams(scale=0)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        SampleParams(duplicate_rate=1.5)


def test_refuses_to_overwrite_a_folder_that_is_not_a_generated_world(tmp_path: Path) -> None:
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="not a generated sample world"):
        generate_world(precious, SampleParams(scale=0.01))
    assert (precious / "notes.txt").read_text() == "keep me"


# ---- ground truth covers the data -------------------------------------------------------------


def test_truth_has_one_row_per_ga4_row_in_file_order(ga4: pa.Table, truth: dict[str, pa.Table]) -> None:
    events = truth["events"]
    assert events.num_rows == ga4.num_rows
    for column in ("user_pseudo_id", "event_timestamp", "event_name", "event_bundle_sequence_id"):
        assert events.column(column).equals(ga4.column(column)), column
    assert events.column("file_date").equals(ga4.column("file_day"))


def test_non_duplicate_rows_are_identified_by_device_time_name_and_sequence(truth: dict[str, pa.Table]) -> None:
    events = truth["events"].filter(pc.invert(truth["events"].column("is_duplicate")))
    keys = events.group_by(["user_pseudo_id", "event_timestamp", "event_name", "event_bundle_sequence_id"]).aggregate(
        [([], "count_all")]
    )
    assert keys.num_rows == events.num_rows


def test_every_device_belongs_to_exactly_one_person(ga4: pa.Table, truth: dict[str, pa.Table]) -> None:
    devices = truth["devices"]
    assert pc.count_distinct(devices.column("user_pseudo_id")).as_py() == devices.num_rows
    assert set(pc.unique(ga4.column("user_pseudo_id")).to_pylist()) == set(devices.column("user_pseudo_id").to_pylist())
    device_ids = truth["identifiers"].filter(pc.equal(truth["identifiers"].column("id_type"), "device"))
    owners = dict(
        zip(devices.column("user_pseudo_id").to_pylist(), devices.column("person_id").to_pylist(), strict=True)
    )
    assert (
        dict(zip(device_ids.column("id_value").to_pylist(), device_ids.column("person_id").to_pylist(), strict=True))
        == owners
    )


def test_identifiers_each_belong_to_one_person_and_exclude_placeholders(truth: dict[str, pa.Table]) -> None:
    identifiers = truth["identifiers"]
    per_value = identifiers.group_by(["id_type", "id_value"]).aggregate([("person_id", "count_distinct")])
    assert pc.max(per_value.column("person_id_count_distinct")).as_py() == 1
    values = set(identifiers.column("id_value").to_pylist())
    assert not values & (set(USER_ID_PLACEHOLDERS) | set(EMAIL_PLACEHOLDERS))
    assert {"device", "login", "email", "phone", "gclid"} == set(identifiers.column("id_type").to_pylist())


# ---- dirt rates -----------------------------------------------------------------------------


def test_exact_duplicates_are_byte_identical_and_counted(ga4: pa.Table, truth: dict[str, pa.Table]) -> None:
    rows = ga4.drop_columns(["file_day"]).to_pylist()
    copies = collections.Counter(json.dumps(r, sort_keys=True) for r in rows)
    extra = sum(n - 1 for n in copies.values())
    flagged = pc.sum(truth["events"].column("is_duplicate")).as_py()
    clean = truth["events"].num_rows - flagged - pc.sum(truth["events"].column("is_malformed")).as_py()
    assert extra == flagged == round(TINY.duplicate_rate * clean)


def test_malformed_rows_come_in_every_kind_at_the_configured_rate(ga4: pa.Table, truth: dict[str, pa.Table]) -> None:
    events = truth["events"]
    originals = pc.invert(events.column("is_duplicate"))
    malformed = events.filter(pc.and_(events.column("is_malformed"), originals))
    clean = pc.sum(pc.and_(originals, pc.invert(events.column("is_malformed")))).as_py()
    assert malformed.num_rows == round(TINY.malformed_rate * clean)
    kinds = collections.Counter(malformed.column("malformed_kind").to_pylist())
    assert set(kinds) == {"null_timestamp", "future_timestamp", "negative_revenue", "unparseable_session_id"}
    rows = ga4.filter(pc.and_(events.column("is_malformed"), originals))
    kind = malformed.column("malformed_kind").to_pylist()
    ts = rows.column("event_timestamp").to_pylist()
    revenue = [e["purchase_revenue"] for e in rows.column("ecommerce").to_pylist()]
    session_text = _param(rows, "ga_session_id")
    future = int(datetime(2090, 1, 1, tzinfo=UTC).timestamp() * 1_000_000)
    for k, t, r, text in zip(kind, ts, revenue, session_text, strict=True):
        if k == "null_timestamp":
            assert t is None
        elif k == "future_timestamp":
            assert t > future
        elif k == "negative_revenue":
            assert r < 0
        else:
            assert text is not None and not text.isdigit()


def test_late_rows_sit_in_a_later_file_and_keep_their_event_date(ga4: pa.Table, truth: dict[str, pa.Table]) -> None:
    events = truth["events"]
    event_date = ga4.column("event_date").to_pylist()
    file_day = ga4.column("file_day").to_pylist()
    late = events.column("is_late").to_pylist()
    assert all(f > d for f, d, lt in zip(file_day, event_date, late, strict=True) if lt)
    assert all(f == d for f, d, lt in zip(file_day, event_date, late, strict=True) if not lt)
    originals = pc.invert(events.column("is_duplicate"))
    clean = pc.sum(pc.and_(originals, pc.invert(events.column("is_malformed")))).as_py()
    assert pc.sum(pc.and_(events.column("is_late"), originals)).as_py() == round(TINY.late_rate * clean)
    # event_date is the UTC day of the event's own timestamp for every well-formed row.
    well_formed = ga4.filter(pc.invert(events.column("is_malformed")))
    days = pc.strftime(pc.cast(well_formed.column("event_timestamp"), pa.timestamp("us", "UTC")), "%Y%m%d")
    assert days.equals(well_formed.column("event_date"))


def test_tied_timestamps_share_their_microsecond_with_the_previous_event(truth: dict[str, pa.Table]) -> None:
    events = truth["events"].filter(
        pc.invert(pc.or_(truth["events"].column("is_duplicate"), truth["events"].column("is_malformed")))
    )
    clock = collections.Counter(
        zip(events.column("user_pseudo_id").to_pylist(), events.column("event_timestamp").to_pylist(), strict=True)
    )
    ties = [
        (d, t)
        for d, t, tie in zip(
            events.column("user_pseudo_id").to_pylist(),
            events.column("event_timestamp").to_pylist(),
            events.column("is_tie").to_pylist(),
            strict=True,
        )
        if tie
    ]
    assert all(clock[key] >= 2 for key in ties)
    assert abs(len(ties) / events.num_rows - TINY.tie_rate) < 0.3 * TINY.tie_rate


def test_placeholders_appear_where_production_has_them(ga4: pa.Table, truth: dict[str, pa.Table]) -> None:
    user_ids = ga4.column("user_id").to_pylist()
    placeholder_ids = sum(1 for u in user_ids if u in USER_ID_PLACEHOLDERS)
    anonymous = sum(1 for u in user_ids if u is None) + placeholder_ids
    assert abs(placeholder_ids / anonymous - TINY.placeholder_rate) < 0.5 * TINY.placeholder_rate
    sources = set(_param(ga4, "source"))
    assert {"(not set)", "<Other>", "(data deleted)"} & sources
    assert "(not set)" in set(_param(ga4, "page_title"))
    assert set(EMAIL_PLACEHOLDERS) & set(_param(ga4, "email"))


def test_bots_have_thousands_of_events_and_people_do_not(truth: dict[str, pa.Table]) -> None:
    events = truth["events"]
    per_device = events.group_by(["user_pseudo_id", "is_bot"]).aggregate([([], "count_all")])
    bots = per_device.filter(per_device.column("is_bot")).column("count_all").to_pylist()
    people = per_device.filter(pc.invert(per_device.column("is_bot"))).column("count_all").to_pylist()
    assert len(bots) == TINY.n_bot_devices
    assert min(bots) >= 0.9 * TINY.bot_events
    assert max(people) < 0.2 * TINY.bot_events


# ---- behaviour --------------------------------------------------------------------------------


def _clean(ga4: pa.Table, truth: dict[str, pa.Table]) -> tuple[pa.Table, pa.Table]:
    events = truth["events"]
    keep = pc.invert(pc.or_(events.column("is_duplicate"), events.column("is_malformed")))
    return ga4.filter(keep), events.filter(keep)


def test_sessions_follow_ga4_semantics(ga4: pa.Table, truth: dict[str, pa.Table]) -> None:
    rows, events = _clean(ga4, truth)
    session_id = _param(rows, "ga_session_id", "int_value")
    number = _param(rows, "ga_session_number", "int_value")
    device = rows.column("user_pseudo_id").to_pylist()
    ts = rows.column("event_timestamp").to_pylist()
    seq = rows.column("event_bundle_sequence_id").to_pylist()
    key = events.column("true_session_key").to_pylist()
    assert key == [f"{d}.{s}" for d, s in zip(device, session_id, strict=True)]
    order = sorted(range(len(ts)), key=lambda i: (device[i], ts[i], seq[i]))
    for previous, current in itertools.pairwise(order):
        if device[previous] != device[current]:
            continue
        gap = ts[current] - ts[previous]
        assert (key[current] != key[previous]) == (gap > SESSION_TIMEOUT_MICROS), (key[previous], key[current], gap)
        if key[current] != key[previous]:
            assert number[current] == number[previous] + 1
    # ga_session_id is the session's start in epoch seconds.
    starts: dict[str, int] = {}
    for i in order:
        starts.setdefault(key[i], ts[i])
    assert all(int(k.rsplit(".", 1)[1]) == starts[k] // 1_000_000 for k in starts)


def test_user_id_appears_from_the_login_onwards(ga4: pa.Table, truth: dict[str, pa.Table]) -> None:
    rows, events = _clean(ga4, truth)
    device = rows.column("user_pseudo_id").to_pylist()
    person = events.column("person_id").to_pylist()
    name = rows.column("event_name").to_pylist()
    user_id = rows.column("user_id").to_pylist()
    ts = rows.column("event_timestamp").to_pylist()
    seq = rows.column("event_bundle_sequence_id").to_pylist()
    first_seen: dict[tuple[str, int], str] = {}
    for i in sorted(range(len(ts)), key=lambda i: (device[i], ts[i], seq[i])):
        if user_id[i] not in (None, *USER_ID_PLACEHOLDERS):
            first_seen.setdefault((device[i], person[i]), name[i])
    assert first_seen
    assert set(first_seen.values()) <= set(IDENTITY_EVENTS)


def test_journeys_split_on_gaps_over_14_days_and_after_purchases(truth: dict[str, pa.Table], ga4: pa.Table) -> None:
    rows, events = _clean(ga4, truth)
    person = events.column("person_id").to_pylist()
    journey = events.column("true_journey_key").to_pylist()
    ts = rows.column("event_timestamp").to_pylist()
    name = rows.column("event_name").to_pylist()
    repeat = events.column("is_duplicate_purchase").to_pylist()
    seq = rows.column("event_bundle_sequence_id").to_pylist()
    long_gap_splits = 0
    order = sorted(range(len(ts)), key=lambda i: (person[i], ts[i], rows.column("user_pseudo_id")[i].as_py(), seq[i]))
    for previous, current in itertools.pairwise(order):
        if person[previous] != person[current]:
            continue
        gap = ts[current] - ts[previous]
        ends = name[previous] == "purchase"
        new = journey[current] != journey[previous]
        if repeat[current]:
            assert not new
        else:
            assert new == (gap > JOURNEY_TIMEOUT_MICROS or ends)
        long_gap_splits += new and not ends
    assert long_gap_splits > 0


def test_linkable_matches_an_independent_identity_graph(
    world: tuple[Path, dict[str, Any]], ga4: pa.Table, truth: dict[str, pa.Table]
) -> None:
    """Rebuild, with networkx, which devices of a person share an identifier; compare with ``linkable``."""
    out, _ = world
    rows, events = _clean(ga4, truth)
    devices = truth["devices"]
    owner = dict(
        zip(devices.column("user_pseudo_id").to_pylist(), devices.column("person_id").to_pylist(), strict=True)
    )
    shared = dict(
        zip(devices.column("user_pseudo_id").to_pylist(), devices.column("is_shared").to_pylist(), strict=True)
    )
    bots = set(devices.filter(devices.column("is_bot")).column("user_pseudo_id").to_pylist())
    graph = nx.Graph()
    graph.add_nodes_from(owner)
    orders = pq.read_table(out / "backend" / "orders" / "part-00000.parquet").to_pylist()
    buyer = {o["ga_transaction_id"]: o["user_id"] for o in orders if o["ga_transaction_id"]}
    for device, person, user_id, email, phone, txn in zip(
        rows.column("user_pseudo_id").to_pylist(),
        events.column("person_id").to_pylist(),
        rows.column("user_id").to_pylist(),
        _param(rows, "email"),
        _param(rows, "phone"),
        [e["transaction_id"] for e in rows.column("ecommerce").to_pylist()],
        strict=True,
    ):
        if owner[device] != person or device in bots:
            continue
        if user_id not in (None, *USER_ID_PLACEHOLDERS):
            graph.add_edge(device, ("login", user_id))
        if email and email.strip().lower() not in EMAIL_PLACEHOLDERS:
            graph.add_edge(device, ("email", email.strip().lower()))
        if phone:
            graph.add_edge(device, ("phone", "+" + "".join(c for c in phone if c.isdigit())))
        if txn in buyer:
            graph.add_edge(device, ("backend_user", buyer[txn]))
    expected = {}
    for component in nx.connected_components(graph):
        members = [n for n in component if isinstance(n, str)]
        for device in members:
            expected[device] = len(members) >= 2 and device not in bots
    linkable = dict(
        zip(devices.column("user_pseudo_id").to_pylist(), devices.column("linkable").to_pylist(), strict=True)
    )
    kiosks = {d for d, s in shared.items() if s}
    assert {d: v for d, v in linkable.items() if d not in kiosks} == {
        d: v for d, v in expected.items() if d not in kiosks
    }
    assert sum(linkable.values()) > 0.15 * len(linkable)


def test_shared_kiosk_sees_many_logins_and_is_marked_shared(ga4: pa.Table, truth: dict[str, pa.Table]) -> None:
    devices = truth["devices"]
    logins: dict[str, set[str]] = collections.defaultdict(set)
    for device, user_id in zip(
        ga4.column("user_pseudo_id").to_pylist(), ga4.column("user_id").to_pylist(), strict=True
    ):
        if user_id not in (None, *USER_ID_PLACEHOLDERS):
            logins[device].add(user_id)
    crowded = {d for d, ids in logins.items() if len(ids) > 3}
    shared = set(devices.filter(devices.column("is_shared")).column("user_pseudo_id").to_pylist())
    assert crowded and crowded <= shared
    assert all(len(ids) <= 1 for d, ids in logins.items() if d not in shared)


# ---- other sources ---------------------------------------------------------------------------


def test_ad_clicks_carry_the_gclid_of_their_landing_page_view(
    world: tuple[Path, dict[str, Any]], ga4: pa.Table
) -> None:
    out, _ = world
    touches = pq.read_table(out / "ad_touchpoints" / "part-00000.parquet")
    assert pc.min(touches.column("cost")).as_py() > 0
    assert set(touches.column("interaction").to_pylist()) == {"impression", "click"}
    landing = {(d, g) for d, g in zip(ga4.column("user_pseudo_id").to_pylist(), _param(ga4, "gclid"), strict=True) if g}
    clicks = [
        (t["user_pseudo_id"], t["gclid"]) for t in touches.to_pylist() if t["interaction"] == "click" and t["gclid"]
    ]
    assert clicks and set(clicks) <= landing
    assert all(t["gclid"] is None for t in touches.to_pylist() if t["interaction"] == "impression")
    known_devices = set(pc.unique(ga4.column("user_pseudo_id")).to_pylist())
    assert set(touches.column("user_pseudo_id").drop_null().to_pylist()) <= known_devices


def test_budget_limited_campaigns_stop_impressions_at_their_budget(world: tuple[Path, dict[str, Any]]) -> None:
    out, _ = world
    cost = pq.read_table(out / "ad_cost_daily" / "part-00000.parquet").to_pylist()
    touches = pq.read_table(out / "ad_touchpoints" / "part-00000.parquet").to_pylist()
    capped = [c for c in cost if c["cost"] == c["daily_budget"]]
    assert capped and {c["campaign"] for c in capped} <= set(TINY.budget_limited_campaigns)
    for day in capped:
        spent = 0.0
        for touch in sorted(touches, key=lambda t: (t["touch_ts"], t["touch_id"])):
            if touch["campaign"] == day["campaign"] and touch["touch_ts"].date() == day["cost_date"]:
                spent += touch["cost"]
                if touch["interaction"] == "impression":
                    assert spent <= day["daily_budget"] + 1e-9
    assert all(c["cost"] <= c["daily_budget"] for c in cost)


def test_competitor_exposures_point_at_known_devices(
    world: tuple[Path, dict[str, Any]], truth: dict[str, pa.Table]
) -> None:
    out, manifest = world
    exposures = pq.read_table(out / "competitor_exposures" / "part-00000.parquet")
    known = set(truth["devices"].column("user_pseudo_id").to_pylist())
    assert exposures.num_rows == manifest["behaviour"]["competitor_exposures"]
    assert manifest["behaviour"]["journeys_lost_to_competitor"] > 0
    assert set(exposures.column("user_pseudo_id").to_pylist()) <= known | {None}


def test_backend_and_ga4_disagree_on_15_to_20_percent_of_orders(
    world: tuple[Path, dict[str, Any]], ga4: pa.Table, truth: dict[str, pa.Table]
) -> None:
    out, _ = world
    orders = truth["orders"].to_pylist()
    status = collections.Counter(o["truth_status"] for o in orders)
    missing = status["missing_in_ga4"] + status["missing_in_backend"]
    assert 0.15 <= missing / len(orders) <= 0.20
    assert status["revenue_mismatch"] > 0 and status["matched"] > 0
    ga4_txn = {e["transaction_id"] for e in ga4.column("ecommerce").to_pylist() if e["transaction_id"]}
    backend = pq.read_table(out / "backend" / "orders" / "part-00000.parquet").to_pylist()
    backend_txn = {o["ga_transaction_id"]: o for o in backend if o["ga_transaction_id"]}
    for order in orders:
        txn = order["ga_transaction_id"]
        if order["truth_status"] == "missing_in_backend":
            assert txn in ga4_txn and txn not in backend_txn
        elif order["truth_status"] == "missing_in_ga4":
            assert txn not in ga4_txn
        else:
            assert txn in ga4_txn and backend_txn[txn]["order_id"] == order["order_id"]
            assert backend_txn[txn]["revenue"] == order["backend_revenue"]
            same = order["ga4_revenue"] == order["backend_revenue"]
            assert same == (order["truth_status"] != "revenue_mismatch")


def test_backend_users_link_to_ga4_logins_and_unsalted_email_hashes(
    world: tuple[Path, dict[str, Any]], truth: dict[str, pa.Table]
) -> None:
    out, _ = world
    users = pq.read_table(out / "backend" / "users" / "part-00000.parquet").to_pylist()
    identifiers = truth["identifiers"].to_pylist()
    person_of_login = {i["id_value"]: i["person_id"] for i in identifiers if i["id_type"] == "login"}
    email_of_person = {i["person_id"]: i["id_value_normalized"] for i in identifiers if i["id_type"] == "email"}
    checked = 0
    for user in users:
        person = person_of_login.get(user["login_id"])
        if person is not None and person in email_of_person:
            assert user["email_sha256"] == hashlib.sha256(email_of_person[person].encode()).hexdigest()
            checked += 1
    assert checked > 0
    assert len({u["user_id"] for u in users}) == len(users)


def test_raw_emails_vary_in_spelling_but_normalize_to_one_value(truth: dict[str, pa.Table]) -> None:
    emails = [i for i in truth["identifiers"].to_pylist() if i["id_type"] == "email"]
    assert any(e["id_value"] != e["id_value_normalized"] for e in emails)
    assert all(e["id_value"].strip().lower() == e["id_value_normalized"] for e in emails)
    phones = [i for i in truth["identifiers"].to_pylist() if i["id_type"] == "phone"]
    assert all("+" + "".join(c for c in p["id_value"] if c.isdigit()) == p["id_value_normalized"] for p in phones)


# ---- stage runner -----------------------------------------------------------------------------


def test_stage_runner_generates_once_then_reuses(spark: SparkSession, tmp_path: Path) -> None:
    config = with_overrides(
        PipelineConfig(), **{"input.sample_dir": str(tmp_path / "sample"), "input.sample_scale": 0.01}
    )
    context = RunContext(spark=spark, config=config, run_id="t", as_of=datetime(2021, 2, 1))
    first = run_sample_stage(context)
    second = run_sample_stage(context)
    assert not first.failed and first.details["reused"] is False
    assert not second.failed and second.details["reused"] is True
    assert first.rows_out == second.rows_out and first.rows_out["ga4_rows"] > 1000
    skipped = run_sample_stage(
        RunContext(
            spark=spark, config=with_overrides(config, **{"input.ga4_dir": "x"}), run_id="t", as_of=context.as_of
        )
    )
    assert skipped.details["skipped"].startswith("input.ga4_dir")


def test_default_world_scale_is_documented() -> None:
    params = SampleParams()
    assert params.n_persons == 3000 and params.days == 30
    assert SampleParams(scale=2.0).n_persons == 6000
    assert np.isclose(sum(params.depth_probs), 1.0)
