"""The planned rows turned into an Arrow table in the exact GA4 BigQuery export schema.

The Arrow schema is derived once from ``journeylake.schemas.ga4.GA4_EXPORT_SCHEMA``
(the Spark contract the ingest reader uses), so generated files and the real
export take the same read path. Nested columns are built from flat arrays:
``event_params`` as one flat list of (row, key, value) entries sorted by row,
``items`` from each row's basket; strings come from small lookup tables with
``pyarrow.compute.take``.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql.pandas.types import to_arrow_schema

from journeylake.sample import catalog as C
from journeylake.sample.activity import Sessions
from journeylake.sample.dirt import (
    BAD_SESSION_ID,
    FUTURE_TIMESTAMP,
    FUTURE_TIMESTAMP_MICROS,
    MALFORMED_SEQ_OFFSET,
    NEGATIVE_REVENUE,
    NULL_TIMESTAMP,
    RowPlan,
)
from journeylake.sample.events import (
    ADD_TO_CART,
    BEGIN_CHECKOUT,
    EVENT_NAMES,
    FIRST_VISIT,
    PAGE_VIEW,
    PURCHASE,
    SESSION_START,
    USER_ENGAGEMENT,
    VIEW_ITEM,
    Baskets,
)
from journeylake.sample.timeline import EventRows, SessionInfo
from journeylake.sample.world import World
from journeylake.schemas.ga4 import GA4_EXPORT_SCHEMA

GCLID_PREFIX = "Cj0KCQiA"
GCLID_MULTIPLIER = 2_654_435_761  # coprime with 10**12: distinct sessions get distinct gclids
GCLID_MODULUS = 10**12
BAD_SESSION_ID_TEXT = ("not-a-number", "NaN", "12ab34")
TAX_RATE = 0.1
NOT_SET = "(not set)"
BRAND = "Journeylake"


@cache
def ga4_arrow_schema() -> pa.Schema:
    """The GA4 export schema as Arrow (timestamps are not involved: GA4 times are int64 micros)."""
    return to_arrow_schema(GA4_EXPORT_SCHEMA)


def strip_nullability(schema: pa.Schema) -> pa.Schema:
    """``schema`` with every field and list element nullable and no metadata, for comparisons."""

    def relax(data_type: pa.DataType) -> pa.DataType:
        if pa.types.is_struct(data_type):
            return pa.struct([pa.field(f.name, relax(f.type)) for f in data_type])
        if pa.types.is_list(data_type):
            return pa.list_(pa.field("element", relax(data_type.value_type)))
        return data_type

    return pa.schema([pa.field(f.name, relax(f.type)) for f in schema])


def gclids(sessions: np.ndarray) -> pa.Array:
    """The gclid Google Ads gave the click that opened each session (one per session)."""
    number = (sessions.astype(np.int64) * GCLID_MULTIPLIER + 7) % GCLID_MODULUS + GCLID_MODULUS
    return pc.binary_join_element_wise(GCLID_PREFIX, pc.cast(pa.array(number), pa.string()), "")


def page_urls() -> pa.Array:
    paths = [p.path for p in C.PAGES] + [f"/product/{p.item_id}" for p in C.PRODUCTS]
    return pa.array([C.SITE + path for path in paths])


def page_titles() -> pa.Array:
    return pa.array([p.title for p in C.PAGES] + [p.name for p in C.PRODUCTS])


def day_strings(start: date, days: int) -> list[str]:
    return [(start + timedelta(days=d)).strftime("%Y%m%d") for d in range(days)]


def _take(values: pa.Array | list[str], index: np.ndarray) -> pa.Array:
    """``values[index]`` with null where ``index < 0``."""
    table = values if isinstance(values, pa.Array) else pa.array(values, pa.string())
    return pc.take(table, pa.array(np.where(index < 0, 0, index), mask=index < 0))


def _const(value: str | None, n: int) -> pa.Array:
    if value is None:
        return pa.nulls(n, pa.string())
    return pc.take(pa.array([value], pa.string()), pa.array(np.zeros(n, np.int64)))


def _ints(values: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    return pa.array(values.astype(np.int64), pa.int64(), mask=None if valid is None else ~valid)


def _floats(values: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    return pa.array(values.astype(np.float64), pa.float64(), mask=None if valid is None else ~valid)


def written_timestamps(plan: RowPlan, rows: EventRows, window_start: int) -> pa.Array:
    """event_timestamp as written: the event's time, except for rows corrupted on purpose."""
    ts = rows.ts[plan.src]
    future = FUTURE_TIMESTAMP_MICROS + (ts - window_start)
    return _ints(np.where(plan.malformed == FUTURE_TIMESTAMP, future, ts), plan.malformed != NULL_TIMESTAMP)


def written_sequence(plan: RowPlan, rows: EventRows) -> pa.Array:
    """event_bundle_sequence_id as written (corrupted copies are numbered apart from the device counter)."""
    return _ints(rows.seq[plan.src] + np.where(plan.malformed > 0, MALFORMED_SEQ_OFFSET, 0))


def build_ga4_table(
    plan: RowPlan,
    rows: EventRows,
    info: SessionInfo,
    sessions: Sessions,
    baskets: Baskets,
    world: World,
    window_start: int,
    start_date: date,
    days: int,
) -> pa.Table:
    """One Arrow table of every planned row, in plan order, in the GA4 export schema."""
    schema = ga4_arrow_schema()
    n = len(plan)
    src = plan.src
    name = rows.name[src]
    device = rows.device[src]
    session = rows.session[src]
    malformed = plan.malformed

    is_purchase = name == PURCHASE
    revenue = np.where(is_purchase, info.revenue[session], 0.0)
    revenue = np.where(malformed == NEGATIVE_REVENUE, -np.maximum(np.abs(revenue), 1.0), revenue)
    has_revenue = is_purchase | (malformed == NEGATIVE_REVENUE)

    login = rows.login_person[src]
    placeholder = rows.user_id_placeholder[src]
    user_id = pc.if_else(
        pa.array(login >= 0),
        _take(world.person_login, login),
        _take(list(C.USER_ID_PLACEHOLDERS), placeholder),
    )

    first_start = np.full(world.n_devices, np.iinfo(np.int64).max)
    kept = np.flatnonzero(info.kept)
    np.minimum.at(first_start, sessions.device[kept], sessions.start[kept])
    first_touch = first_start - world.device_first_touch_offset
    first_campaign = np.full(world.n_devices, C.DIRECT_CAMPAIGN)
    by_start = kept[np.argsort(sessions.start[kept], kind="stable")][::-1]
    first_campaign[sessions.device[by_start]] = sessions.campaign[by_start]  # last write wins: the earliest

    columns: dict[str, pa.Array] = {
        "event_date": _take(day_strings(start_date, days), plan.event_day),
        "event_timestamp": written_timestamps(plan, rows, window_start),
        "event_name": _take(list(EVENT_NAMES), name),
        "event_params": _event_params(plan, rows, info, sessions, world, schema.field("event_params").type),
        "event_previous_timestamp": pa.nulls(n, pa.int64()),
        "event_value_in_usd": _floats(revenue, has_revenue),
        "event_bundle_sequence_id": written_sequence(plan, rows),
        "event_server_timestamp_offset": pa.nulls(n, pa.int64()),
        "user_id": user_id,
        "user_pseudo_id": _take(world.device_pseudo_id, device),
        "privacy_info": _struct(
            schema, "privacy_info", [pa.nulls(n, pa.int64()), pa.nulls(n, pa.int64()), _const("No", n)]
        ),
        "user_properties": pa.ListArray.from_arrays(
            pa.array(np.zeros(n + 1, np.int32)),
            pa.array([], schema.field("user_properties").type.value_type),
            type=schema.field("user_properties").type,
        ),
        "user_first_touch_timestamp": _ints(first_touch[device]),
        "user_ltv": _struct(schema, "user_ltv", [_floats(np.zeros(n)), _const(C.CURRENCY, n)]),
        "device": _device(schema, world, device),
        "geo": _geo(schema, world, device),
        "app_info": pa.nulls(n, schema.field("app_info").type),
        "traffic_source": _traffic_source(schema, first_campaign[device]),
        "stream_id": _ints(np.full(n, C.STREAM_ID)),
        "platform": _const("WEB", n),
        "event_dimensions": pa.nulls(n, schema.field("event_dimensions").type),
        "ecommerce": _ecommerce(schema, plan, rows, info, baskets, revenue, has_revenue),
        "items": _items(schema, plan, rows, baskets),
    }
    return pa.Table.from_arrays([columns[f.name] for f in schema], schema=schema)


def _struct(schema: pa.Schema, column: str, children: list[pa.Array]) -> pa.Array:
    return pa.StructArray.from_arrays(children, fields=list(schema.field(column).type))


def _device(schema: pa.Schema, world: World, device: np.ndarray) -> pa.Array:
    n = len(device)
    profiles = [*C.DEVICE_PROFILES, C.BOT_PROFILE]
    profile = np.where(world.device_profile[device] < 0, len(profiles) - 1, world.device_profile[device])
    place = world.person_place[world.device_person[device]]

    def field(attribute: str) -> pa.Array:
        return _take([getattr(p, attribute) for p in profiles], profile)

    web_type = schema.field("device").type.field("web_info").type
    return _struct(
        schema,
        "device",
        [
            field("category"),
            field("brand"),
            field("model"),
            _const("<Other>", n),
            pa.nulls(n, pa.int64()),
            field("operating_system"),
            field("os_version"),
            pa.nulls(n, pa.int64()),
            pa.nulls(n, pa.int64()),
            _take([p.language for p in C.PLACES], place),
            _const("No", n),
            pa.nulls(n, pa.int64()),
            pa.StructArray.from_arrays([field("browser"), field("browser_version")], fields=list(web_type)),
        ],
    )


def _geo(schema: pa.Schema, world: World, device: np.ndarray) -> pa.Array:
    place = world.person_place[world.device_person[device]]
    values = [
        _take([getattr(p, attribute) for p in C.PLACES], place)
        for attribute in ("continent", "sub_continent", "country", "region", "city")
    ]
    return _struct(schema, "geo", [*values, _const(NOT_SET, len(device))])


def _traffic_source(schema: pa.Schema, campaign: np.ndarray) -> pa.Array:
    return _struct(
        schema,
        "traffic_source",
        [
            _take([c.medium for c in C.CAMPAIGNS], campaign),
            _take([c.name for c in C.CAMPAIGNS], campaign),
            _take([c.source for c in C.CAMPAIGNS], campaign),
        ],
    )


def _ecommerce(
    schema: pa.Schema,
    plan: RowPlan,
    rows: EventRows,
    info: SessionInfo,
    baskets: Baskets,
    revenue: np.ndarray,
    has_revenue: np.ndarray,
) -> pa.Array:
    n = len(plan)
    session = rows.session[plan.src]
    quantity = np.zeros(len(baskets.count), np.int64)
    np.add.at(quantity, np.repeat(np.arange(len(baskets.count)), baskets.count), baskets.quantity)
    tax = np.round(np.abs(revenue) * TAX_RATE, 2)
    null_double = pa.nulls(n, pa.float64())
    transaction = np.where(has_revenue, info.transaction_id[session], None)
    return _struct(
        schema,
        "ecommerce",
        [
            _ints(quantity[session], has_revenue),
            _floats(revenue, has_revenue),
            _floats(revenue, has_revenue),
            null_double,
            null_double,
            null_double,
            null_double,
            _floats(tax, has_revenue),
            _floats(tax, has_revenue),
            _ints(baskets.count[session], has_revenue),
            pa.array(transaction, pa.string()),
        ],
    )


def _items(schema: pa.Schema, plan: RowPlan, rows: EventRows, baskets: Baskets) -> pa.Array:
    list_type = schema.field("items").type
    name = rows.name[plan.src]
    session = rows.session[plan.src]
    is_view = name == VIEW_ITEM
    in_basket = np.isin(name, (ADD_TO_CART, BEGIN_CHECKOUT, PURCHASE))
    count = np.where(is_view, 1, np.where(in_basket, baskets.count[session], 0))
    owner = np.repeat(np.arange(len(plan)), count)
    within = np.arange(len(owner)) - np.repeat(np.cumsum(count) - count, count)
    basket_row = np.where(is_view[owner], 0, baskets.start[session[owner]] + within)
    basket_row = np.minimum(basket_row, max(len(baskets.product) - 1, 0))
    product = np.where(
        is_view[owner], rows.product[plan.src][owner], baskets.product[basket_row] if len(baskets.product) else 0
    )
    quantity = np.where(is_view[owner], 1, baskets.quantity[basket_row] if len(baskets.quantity) else 1)
    price = np.array([p.price for p in C.PRODUCTS])[product]
    bought = name[owner] == PURCHASE
    item_revenue = np.round(price * quantity, 2)
    m = len(owner)
    not_set = _const(NOT_SET, m)
    null_double = pa.nulls(m, pa.float64())
    values = pa.StructArray.from_arrays(
        [
            _take([p.item_id for p in C.PRODUCTS], product),
            _take([p.name for p in C.PRODUCTS], product),
            _const(BRAND, m),
            not_set,
            _take([p.category for p in C.PRODUCTS], product),
            not_set,
            not_set,
            not_set,
            not_set,
            _floats(price),
            _floats(price),
            _ints(quantity),
            _floats(item_revenue, bought),
            _floats(item_revenue, bought),
            null_double,
            null_double,
            *[not_set] * 10,
        ],
        fields=list(list_type.value_type),
    )
    offsets = np.concatenate([[0], np.cumsum(count)]).astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), values, type=list_type)


def _event_params(
    plan: RowPlan, rows: EventRows, info: SessionInfo, sessions: Sessions, world: World, list_type: pa.DataType
) -> pa.Array:
    """Every row's params as one sorted flat list: (row, key rank) -> key, string or int value."""
    n = len(plan)
    src = plan.src
    name = rows.name[src]
    session = rows.session[src]
    all_rows = np.arange(n)
    entry_rows: list[np.ndarray] = []
    entry_keys: list[np.ndarray] = []
    strings: list[pa.Array] = []
    ints: list[pa.Array] = []
    keys: list[str] = []

    def add(where: np.ndarray, key: str, text: pa.Array | None = None, number: pa.Array | None = None) -> None:
        if key not in keys:
            keys.append(key)
        entry_rows.append(where)
        entry_keys.append(np.full(len(where), keys.index(key)))
        strings.append(text if text is not None else pa.nulls(len(where), pa.string()))
        ints.append(number if number is not None else pa.nulls(len(where), pa.int64()))

    bad_id = plan.malformed == BAD_SESSION_ID
    good = np.flatnonzero(~bad_id)
    bad = np.flatnonzero(bad_id)
    add(good, "ga_session_id", number=_ints(info.ga_session_id[session[good]]))
    add(bad, "ga_session_id", text=_take(list(BAD_SESSION_ID_TEXT), bad % len(BAD_SESSION_ID_TEXT)))
    add(all_rows, "ga_session_number", number=_ints(info.ga_session_number[session]))
    page = rows.page[src]
    add(all_rows, "page_location", text=_take(page_urls(), page))
    title_index = np.where(rows.title_placeholder[src], len(page_titles()), page)
    add(all_rows, "page_title", text=_take(pa.concat_arrays([page_titles(), pa.array([NOT_SET])]), title_index))

    is_page_view = np.flatnonzero(name == PAGE_VIEW)
    previous = rows.previous_page[src][is_page_view]
    landing_campaign = sessions.campaign[session[is_page_view]]
    referral_url = np.array([C.REFERRER_URLS.get(c, "") for c in range(len(C.CAMPAIGNS))], dtype=object)
    referrer_text = pc.if_else(
        pa.array(previous >= 0),
        _take(page_urls(), previous),
        pa.array(np.where(referral_url[landing_campaign] == "", None, referral_url[landing_campaign]), pa.string()),
    )
    add(is_page_view, "page_referrer", text=referrer_text)

    landing = np.flatnonzero(rows.is_landing[src])
    campaign = sessions.campaign[session[landing]]
    placeholder = rows.source_placeholder[src][landing]
    for key, attribute in (("source", "source"), ("medium", "medium"), ("campaign", "name")):
        real = _take([getattr(c, attribute) for c in C.CAMPAIGNS], campaign)
        add(
            landing,
            key,
            text=pc.if_else(pa.array(placeholder >= 0), _take(list(C.SOURCE_PLACEHOLDERS), placeholder), real),
        )
    clicked = landing[info.has_gclid[session[landing]]]
    add(clicked, "gclid", text=gclids(session[clicked]))

    engagement = np.flatnonzero(name == USER_ENGAGEMENT)
    add(engagement, "engagement_time_msec", number=_ints(rows.engagement_ms[src][engagement]))
    later = np.flatnonzero(~np.isin(name, (FIRST_VISIT, SESSION_START)))
    add(later, "session_engaged", text=_take(["0", "1"], info.engaged[session[later]].astype(np.int64)))

    email_code = rows.email_code[src]
    email_placeholder = rows.email_placeholder[src]
    email_rows = np.flatnonzero((email_code >= 0) | (email_placeholder >= 0))
    email_text = pc.if_else(
        pa.array(email_code[email_rows] >= 0),
        _take(world.person_email_variants, email_code[email_rows]),
        _take(list(C.EMAIL_PLACEHOLDERS), email_placeholder[email_rows]),
    )
    add(email_rows, "email", text=email_text)
    phone_code = rows.phone_code[src]
    phone_rows = np.flatnonzero(phone_code >= 0)
    add(phone_rows, "phone", text=_take(world.person_phone_variants, phone_code[phone_rows]))
    purchases = np.flatnonzero(name == PURCHASE)
    add(purchases, "transaction_id", text=pa.array(info.transaction_id[session[purchases]], pa.string()))
    add(purchases, "currency", text=_const(C.CURRENCY, len(purchases)))

    row_of = np.concatenate(entry_rows)
    key_of = np.concatenate(entry_keys)
    order = np.lexsort((key_of, row_of))
    value_type = list_type.value_type
    value_struct_type = value_type.field("value").type
    value = pa.StructArray.from_arrays(
        [
            pc.take(pa.concat_arrays(strings), pa.array(order)),
            pc.take(pa.concat_arrays(ints), pa.array(order)),
            pa.nulls(len(order), pa.float64()),
            pa.nulls(len(order), pa.float64()),
        ],
        fields=list(value_struct_type),
    )
    entries = pa.StructArray.from_arrays([_take(keys, key_of[order]), value], fields=list(value_type))
    offsets = np.concatenate([[0], np.cumsum(np.bincount(row_of, minlength=n))]).astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), entries, type=list_type)
