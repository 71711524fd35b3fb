"""The other sources: ad touchpoints, daily ad cost, competitor exposures, and the shop backend.

All are derived from the same simulated sessions, so they agree with the GA4
events where production sources agree (a click's gclid is on the landing
page_view; an order's ``ga_transaction_id`` is a GA4 transaction) and disagree
where production sources do (orders missing on either side, revenue deltas,
impressions stopped by a campaign's budget).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql.pandas.types import to_arrow_schema

from journeylake.sample import catalog as C
from journeylake.sample.activity import (
    CONSIDERING,
    DAY,
    HOUR,
    MICROS_PER_SECOND,
    MINUTE,
    Sessions,
    pick_one_per_person,
    world_fatigue,
)
from journeylake.sample.events import Baskets
from journeylake.sample.ga4 import gclids
from journeylake.sample.params import SampleParams
from journeylake.sample.timeline import SessionInfo
from journeylake.sample.world import LOGIN, World
from journeylake.schemas.sources import (
    AD_COST_DAILY_SCHEMA,
    AD_TOUCHPOINTS_SCHEMA,
    BACKEND_ORDER_ITEMS_SCHEMA,
    BACKEND_ORDERS_SCHEMA,
    BACKEND_USERS_SCHEMA,
    COMPETITOR_EXPOSURES_SCHEMA,
)

CLICK_LEAD = (1 * MICROS_PER_SECOND, 20 * MICROS_PER_SECOND)  # an ad click precedes its landing page_view
CLICK_COST_SPREAD = (0.6, 1.4)
IMPRESSION_COST_SPREAD = (0.5, 1.5)
MIN_TOUCH_COST = 0.0001
PROSPECTING_MEAN = 1.5  # impressions before a journey's first visit
PROSPECTING_LEAD = (10 * MINUTE, 3 * DAY)
RETARGETING_MEAN = 2.0  # impressions during a considering+ journey
RETARGETING_TAIL = 2 * DAY
FATIGUE_SPAN = (1 * HOUR, 12 * DAY)  # impressions after the last visit, inside the 14-day journey window
KNOWN_DEVICE_PROB = 0.75  # impressions the ad platform could tie to the site cookie
UNLIMITED_BUDGET_FACTOR = 10.0
COMPETITOR_DELAY = (1 * HOUR, 48 * HOUR)
RANDOM_EXPOSURES = (1, 4)  # [low, high) exposures for persons with unrelated competitor contact
SHIPPING_FEES = (4.99, 7.5)
DISCOUNT_FACTOR = 0.9
ORDER_DELAY = (1 * MICROS_PER_SECOND, 30 * MICROS_PER_SECOND)
ORDER_ID_BASE = 5_000_001
USER_ID_BASE = 100_001
ORDER_ITEM_ID_BASE = 1
BACKEND_ONLY_TRANSACTION_BASE = 90_000_000  # 8 digits: never one of GA4's 7-digit transaction ids
REFUNDED_SHARE = 0.03
MATCHED, REVENUE_MISMATCH, MISSING_IN_GA4, MISSING_IN_BACKEND, DUPLICATE_IN_GA4 = (
    "matched",
    "revenue_mismatch",
    "missing_in_ga4",
    "missing_in_backend",
    "duplicate_in_ga4",
)


def _arrow(schema: object) -> pa.Schema:
    return to_arrow_schema(schema)  # type: ignore[arg-type]


def _timestamps(micros: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    return pa.array(micros.astype(np.int64), pa.int64(), mask=None if valid is None else ~valid).cast(
        pa.timestamp("us", tz="UTC")
    )


def _take(values: list[str] | pa.Array, index: np.ndarray) -> pa.Array:
    table = values if isinstance(values, pa.Array) else pa.array(values, pa.string())
    return pc.take(table, pa.array(np.where(index < 0, 0, index), mask=index < 0))


def _ids(prefix: str, n: int) -> pa.Array:
    number = pc.utf8_lpad(pc.cast(pa.array(np.arange(1, n + 1, dtype=np.int64)), pa.string()), 8, "0")
    return pc.binary_join_element_wise(prefix, number, "")


@dataclass(frozen=True)
class Episodes:
    """Per planned episode with kept sessions: who, where and when."""

    person: np.ndarray
    depth: np.ndarray
    lost: np.ndarray
    first_start: np.ndarray
    last_end: np.ndarray
    first_device: np.ndarray
    last_device: np.ndarray


def episodes_of(s: Sessions, info: SessionInfo) -> Episodes:
    rows = np.flatnonzero(info.kept & ~s.is_bot)
    rows = rows[np.lexsort((s.start[rows], s.episode[rows]))]
    episode = s.episode[rows]
    first = np.ones(len(rows), bool)
    first[1:] = episode[1:] != episode[:-1]
    last = np.ones(len(rows), bool)
    last[:-1] = episode[1:] != episode[:-1]
    f, lst = rows[first], rows[last]
    return Episodes(
        person=s.person[f],
        depth=s.depth[f],
        lost=s.lost_to_competitor[f],
        first_start=s.start[f],
        last_end=s.end[lst],
        first_device=s.device[f],
        last_device=s.device[lst],
    )


def ad_touchpoints(
    s: Sessions,
    info: SessionInfo,
    world: World,
    params: SampleParams,
    window: tuple[int, int],
    rng: np.random.Generator,
) -> tuple[pa.Table, pa.Table, dict[str, int]]:
    """Ad clicks and impressions (AD_TOUCHPOINTS_SCHEMA) and daily cost (AD_COST_DAILY_SCHEMA)."""
    window_start, window_end = window
    paid = np.array([c.paid for c in C.CAMPAIGNS])
    cpc = np.array([c.cpc for c in C.CAMPAIGNS])
    cpm = np.array([c.cpm for c in C.CAMPAIGNS])

    clicks = np.flatnonzero(info.kept & paid[s.campaign] & ~s.is_bot)
    click_ts = s.start[clicks] - rng.integers(*CLICK_LEAD, len(clicks))
    click_cost = cpc[s.campaign[clicks]] * rng.uniform(*CLICK_COST_SPREAD, len(clicks))

    ep = episodes_of(s, info)
    prospect_n = rng.poisson(PROSPECTING_MEAN, len(ep.person))
    p_ep = np.repeat(np.arange(len(ep.person)), prospect_n)
    p_ts = ep.first_start[p_ep] - rng.integers(*PROSPECTING_LEAD, len(p_ep))
    p_campaign = np.asarray(C.PROSPECTING_IMPRESSION_CAMPAIGNS)[
        rng.integers(0, len(C.PROSPECTING_IMPRESSION_CAMPAIGNS), len(p_ep))
    ]
    retarget_n = np.where(ep.depth >= CONSIDERING, rng.poisson(RETARGETING_MEAN, len(ep.person)), 0)
    r_ep = np.repeat(np.arange(len(ep.person)), retarget_n)
    span = ep.last_end[r_ep] + RETARGETING_TAIL - ep.first_start[r_ep]
    r_ts = ep.first_start[r_ep] + (rng.random(len(r_ep)) * span).astype(np.int64)
    fatigued = world_fatigue(world, params)
    last_episode = np.ones(len(ep.person), bool)
    last_episode[:-1] = ep.person[1:] != ep.person[:-1]
    fatigue_n = np.where(
        fatigued[ep.person] & last_episode, rng.integers(*params.fatigue_impressions, len(ep.person), endpoint=True), 0
    )
    f_ep = np.repeat(np.arange(len(ep.person)), fatigue_n)
    f_ts = ep.last_end[f_ep] + rng.integers(*FATIGUE_SPAN, len(f_ep))
    retarget_campaigns = np.asarray(C.RETARGETING_IMPRESSION_CAMPAIGNS)
    rf_campaign = retarget_campaigns[rng.integers(0, len(retarget_campaigns), len(r_ep) + len(f_ep))]

    imp_ts = np.concatenate([p_ts, r_ts, f_ts])
    imp_campaign = np.concatenate([p_campaign, rf_campaign])
    imp_device = np.concatenate([ep.first_device[p_ep], ep.first_device[r_ep], ep.last_device[f_ep]])
    known = rng.random(len(imp_ts)) < KNOWN_DEVICE_PROB
    known[len(p_ts) + len(r_ts) :] = True  # fatigue is measured per person: the platform knows the cookie
    imp_device = np.where(known, imp_device, -1)
    imp_cost = cpm[imp_campaign] / 1000.0 * rng.uniform(*IMPRESSION_COST_SPREAD, len(imp_ts))

    is_click = np.concatenate([np.ones(len(clicks), bool), np.zeros(len(imp_ts), bool)])
    ts = np.concatenate([click_ts, imp_ts])
    campaign = np.concatenate([s.campaign[clicks], imp_campaign])
    device = np.concatenate([s.device[clicks], imp_device])
    click_session = np.concatenate([clicks, np.full(len(imp_ts), -1)])
    cost = np.maximum(np.round(np.concatenate([click_cost, imp_cost]), 6), MIN_TOUCH_COST)

    inside = (ts >= window_start) & (ts < window_end)
    order = np.flatnonzero(inside)
    order = order[np.lexsort((order, ts[order]))]
    is_click, ts, campaign, device, click_session, cost = (
        a[order] for a in (is_click, ts, campaign, device, click_session, cost)
    )

    keep, cost_rows, capped = _apply_budgets(ts, campaign, cost, is_click, window_start, params)
    is_click, ts, campaign, device, click_session, cost = (
        a[keep] for a in (is_click, ts, campaign, device, click_session, cost)
    )
    n = len(ts)
    has_gclid = np.array([c.has_gclid for c in C.CAMPAIGNS])[campaign] & is_click
    gclid_values = pc.if_else(pa.array(has_gclid), gclids(np.maximum(click_session, 0)), pa.nulls(n, pa.string()))
    touch_id = pc.if_else(pa.array(is_click), _ids("clk-", n), _ids("imp-", n))
    touches = pa.Table.from_arrays(
        [
            touch_id,
            _timestamps(ts),
            _take(["impression", "click"], is_click.astype(np.int64)),
            _take([c.channel for c in C.CAMPAIGNS], campaign),
            _take([c.source for c in C.CAMPAIGNS], campaign),
            _take([c.medium for c in C.CAMPAIGNS], campaign),
            _take([c.name for c in C.CAMPAIGNS], campaign),
            _take(world.device_pseudo_id, device),
            gclid_values,
            pa.array(cost, pa.float64()),
            _take([C.CURRENCY], np.zeros(n, np.int64)),
        ],
        schema=_arrow(AD_TOUCHPOINTS_SCHEMA),
    )
    counts = {
        "clicks": int(is_click.sum()),
        "impressions": int((~is_click).sum()),
        "fatigue_impressions": int(fatigue_n.sum()),
        "budget_capped_days": capped,
    }
    return touches, _cost_table(cost_rows, params.start_date), counts


def _apply_budgets(
    ts: np.ndarray,
    campaign: np.ndarray,
    cost: np.ndarray,
    is_click: np.ndarray,
    window_start: int,
    params: SampleParams,
) -> tuple[np.ndarray, tuple[np.ndarray, ...], int]:
    """Cap budget-limited campaigns: once a day's spend reaches the budget, impressions stop.

    The budget of a limited campaign is the spend quantile that makes about
    ``budget_capped_day_share`` of its days hit it; other campaigns get a budget
    far above their spend. Clicks already bought are kept (their landing visits exist).
    Returns the rows kept, the daily cost rows (day, campaign, cost, budget) and the capped-day count.
    """
    day = (ts - window_start) // DAY
    n_campaigns = len(C.CAMPAIGNS)
    group = day * n_campaigns + campaign
    order = np.lexsort((np.arange(len(ts)), group))
    starts = np.ones(len(order), bool)
    starts[1:] = group[order][1:] != group[order][:-1]
    running = np.cumsum(cost[order])
    base = np.maximum.accumulate(np.where(starts, np.arange(len(order)), 0))
    cumulative = np.empty(len(ts))
    cumulative[order] = running - running[base] + cost[order][base]

    groups, inverse = np.unique(group, return_inverse=True)
    natural = np.bincount(inverse, weights=cost)
    g_campaign = groups % n_campaigns
    limited = np.array([c.name in params.budget_limited_campaigns for c in C.CAMPAIGNS])
    budget = np.zeros(n_campaigns)
    for code in range(n_campaigns):
        spends = natural[g_campaign == code]
        if not len(spends):
            continue
        if limited[code]:
            budget[code] = round(float(np.quantile(spends, 1.0 - params.budget_capped_day_share)), 2)
        else:
            budget[code] = round(float(spends.max()) * UNLIMITED_BUDGET_FACTOR, 2)
    over = cumulative > budget[campaign]
    keep = ~(over & ~is_click & limited[campaign])
    capped_group = limited[g_campaign] & (natural > budget[g_campaign])
    kept_spend = np.bincount(inverse[keep], weights=cost[keep], minlength=len(groups))
    daily_cost = np.where(capped_group, budget[g_campaign], np.round(kept_spend, 2))
    rows = (groups // n_campaigns, g_campaign, daily_cost, budget[g_campaign])
    return np.flatnonzero(keep), rows, int(capped_group.sum())


def _cost_table(rows: tuple[np.ndarray, ...], start_date: date) -> pa.Table:
    day, campaign, cost, budget = rows
    epoch_day = (np.datetime64(start_date, "D") - np.datetime64("1970-01-01", "D")).astype(np.int64)
    n = len(day)
    return pa.Table.from_arrays(
        [
            pa.array((epoch_day + day).astype(np.int32), pa.int32()).cast(pa.date32()),
            _take([c.channel for c in C.CAMPAIGNS], campaign),
            _take([c.name for c in C.CAMPAIGNS], campaign),
            pa.array(cost, pa.float64()),
            pa.array(budget, pa.float64()),
            _take([C.CURRENCY], np.zeros(n, np.int64)),
        ],
        schema=_arrow(AD_COST_DAILY_SCHEMA),
    )


def competitor_exposures(
    s: Sessions,
    info: SessionInfo,
    world: World,
    params: SampleParams,
    window: tuple[int, int],
    rng: np.random.Generator,
) -> tuple[pa.Table, dict[str, int]]:
    """Exposures to competitors: one after each lost journey, plus unrelated ones (COMPETITOR_EXPOSURES_SCHEMA)."""
    window_start, window_end = window
    ep = episodes_of(s, info)
    lost = np.flatnonzero(ep.lost)
    lost_ts = ep.last_end[lost] + rng.integers(*COMPETITOR_DELAY, len(lost))
    lost_device = ep.last_device[lost]

    n = world.n_regular
    exposed = np.flatnonzero(rng.random(n) < params.competitor_exposure_share)
    # The exposed device is one the person browsed the site with, so it is known to the pipeline.
    seen = pick_one_per_person(
        s.person, info.kept & ~s.is_bot & ~s.is_kiosk & ~s.is_guest & np.isin(s.person, exposed), rng
    )
    per_person = rng.integers(*RANDOM_EXPOSURES, len(seen))
    person = np.repeat(s.person[seen], per_person)
    random_device = np.repeat(s.device[seen], per_person)
    random_ts = window_start + (rng.random(len(person)) * (window_end - window_start)).astype(np.int64)

    ts = np.concatenate([lost_ts, random_ts])
    device = np.concatenate([lost_device, random_device])
    inside = np.flatnonzero(ts < window_end)
    inside = inside[np.lexsort((inside, ts[inside]))]
    ts, device = ts[inside], device[inside]
    m = len(ts)
    table = pa.Table.from_arrays(
        [
            _ids("cx-", m),
            _timestamps(ts),
            _take(list(C.COMPETITORS), rng.integers(0, len(C.COMPETITORS), m)),
            _take(list(C.COMPETITOR_CHANNELS), rng.integers(0, len(C.COMPETITOR_CHANNELS), m)),
            _take(world.device_pseudo_id, device),
        ],
        schema=_arrow(COMPETITOR_EXPOSURES_SCHEMA),
    )
    lost_inside = int((inside < len(lost_ts)).sum())
    return table, {"competitor_exposures": m, "journeys_lost_to_competitor": lost_inside}


@dataclass(frozen=True)
class Backend:
    users: pa.Table
    orders: pa.Table
    order_items: pa.Table
    truth_orders: pa.Table
    counts: dict[str, int]
    # For identity truth: the GA4 purchase sessions whose order the backend links to a backend user.
    linked_purchase_sessions: np.ndarray


def backend(
    s: Sessions,
    info: SessionInfo,
    baskets: Baskets,
    duplicate_sessions: np.ndarray,
    world: World,
    params: SampleParams,
    window: tuple[int, int],
    rng: np.random.Generator,
) -> Backend:
    """Backend users, orders and order items, and the true order <-> transaction matching."""
    window_start, window_end = window
    ga_sessions = np.flatnonzero(info.kept & info.has_purchase)
    ga_sessions = ga_sessions[np.argsort(s.end[ga_sessions], kind="stable")]
    g = len(ga_sessions)
    backend_only = round(params.missing_in_ga4_rate * g / (1.0 - params.missing_in_ga4_rate))
    total = g + backend_only
    is_duplicate = np.isin(ga_sessions, duplicate_sessions)
    status = np.where(is_duplicate, DUPLICATE_IN_GA4, MATCHED).astype(object)
    free = np.flatnonzero(~is_duplicate)
    n_missing = min(round(params.missing_in_backend_rate * total), len(free))
    missing = rng.choice(free, size=n_missing, replace=False) if n_missing else free[:0]
    status[missing] = MISSING_IN_BACKEND
    free = np.flatnonzero(status == MATCHED)
    n_mismatch = min(round(params.revenue_mismatch_rate * total), len(free))
    mismatch = rng.choice(free, size=n_mismatch, replace=False) if n_mismatch else free[:0]
    status[mismatch] = REVENUE_MISMATCH

    ga_revenue = info.revenue[ga_sessions]
    backend_revenue = ga_revenue.copy()
    adjust = rng.random(len(mismatch)) < 0.5
    fee = np.asarray(SHIPPING_FEES)[rng.integers(0, len(SHIPPING_FEES), len(mismatch))]
    backend_revenue[mismatch] = np.round(
        np.where(adjust, ga_revenue[mismatch] + fee, ga_revenue[mismatch] * DISCOUNT_FACTOR), 2
    )

    in_backend = status != MISSING_IN_BACKEND
    b_sessions = ga_sessions[in_backend]
    b_person = s.person[b_sessions]
    b_ts = s.end[b_sessions] + rng.integers(*ORDER_DELAY, len(b_sessions))
    b_revenue = backend_revenue[in_backend]
    b_txn = info.transaction_id[b_sessions]

    account_holders = np.flatnonzero(world.person_kind[: world.n_regular] == LOGIN)
    pool = account_holders if len(account_holders) else np.arange(world.n_regular)
    o_person = pool[rng.integers(0, len(pool), backend_only)]
    o_ts = window_start + (rng.random(backend_only) * (window_end - window_start)).astype(np.int64)
    o_count = rng.integers(1, 4, backend_only)
    o_products = rng.integers(0, len(C.PRODUCTS), int(o_count.sum()))
    o_quantity = rng.integers(1, 3, int(o_count.sum()))
    prices = np.array([p.price for p in C.PRODUCTS])
    o_revenue = np.round(
        np.bincount(
            np.repeat(np.arange(backend_only), o_count), weights=prices[o_products] * o_quantity, minlength=backend_only
        ),
        2,
    )
    with_id = rng.random(backend_only) < 0.5
    o_txn = (BACKEND_ONLY_TRANSACTION_BASE + np.arange(backend_only)).astype(str).astype(object)
    o_txn[~with_id] = None  # the shop did not record the GA4 transaction id for these

    order_person = np.concatenate([b_person, o_person])
    order_ts = np.concatenate([b_ts, o_ts])
    order_revenue = np.concatenate([b_revenue, o_revenue])
    order_txn = np.concatenate([b_txn, o_txn]).astype(object)
    order_rank = np.argsort(order_ts, kind="stable")
    order_id = np.empty(len(order_ts), np.int64)
    order_id[order_rank] = ORDER_ID_BASE + np.arange(len(order_ts))

    # Items: GA4 orders keep their basket; backend-only orders have their own.
    b_count = baskets.count[b_sessions]
    b_rows = np.repeat(baskets.start[b_sessions], b_count) + (
        np.arange(int(b_count.sum())) - np.repeat(np.cumsum(b_count) - b_count, b_count)
    )
    item_order = np.concatenate(
        [np.repeat(order_id[: len(b_sessions)], b_count), np.repeat(order_id[len(b_sessions) :], o_count)]
    )
    item_product = np.concatenate([baskets.product[b_rows], o_products])
    item_quantity = np.concatenate([baskets.quantity[b_rows], o_quantity])
    item_rank = np.lexsort((np.arange(len(item_order)), item_order))
    item_order, item_product, item_quantity = item_order[item_rank], item_product[item_rank], item_quantity[item_rank]

    users_persons = np.union1d(account_holders, order_person)
    user_id_of = np.full(world.n_persons, -1, np.int64)
    user_id_of[users_persons] = USER_ID_BASE + rng.permutation(len(users_persons))
    first_order = np.full(world.n_persons, np.iinfo(np.int64).max)
    np.minimum.at(first_order, order_person, order_ts)
    signup = np.full(world.n_persons, np.iinfo(np.int64).max)
    sign_up_sessions = np.flatnonzero(info.kept & (s.auth_event == 2))
    np.minimum.at(signup, s.person[sign_up_sessions], s.start[sign_up_sessions])
    before_window = window_start - rng.integers(1, 720, world.n_persons) * DAY // 2
    is_login = world.person_kind == LOGIN
    never = np.iinfo(np.int64).max
    created = np.where(is_login, np.where(signup < never, signup, before_window), first_order - MINUTE)
    user_rank = np.argsort(user_id_of[users_persons])
    users_sorted = users_persons[user_rank]
    emails = world.person_email.to_pylist()
    email_hash = [hashlib.sha256(emails[p].encode()).hexdigest() for p in users_sorted.tolist()]
    users = pa.Table.from_arrays(
        [
            pa.array(user_id_of[users_sorted], pa.int64()),
            pc.if_else(
                pa.array(is_login[users_sorted]),
                _take(world.person_login, users_sorted),
                pa.nulls(len(users_sorted), pa.string()),
            ),
            pa.array(email_hash, pa.string()),
            _timestamps(created[users_sorted]),
            _take([p.country for p in C.PLACES], world.person_place[users_sorted]),
        ],
        schema=_arrow(BACKEND_USERS_SCHEMA),
    )
    refunded = rng.random(len(order_ts)) < REFUNDED_SHARE
    orders = pa.Table.from_arrays(
        [
            pa.array(order_id[order_rank], pa.int64()),
            pa.array(user_id_of[order_person][order_rank], pa.int64()),
            pa.array(order_txn[order_rank], pa.string()),
            _timestamps(order_ts[order_rank]),
            _take(["paid", "refunded"], refunded[order_rank].astype(np.int64)),
            pa.array(order_revenue[order_rank], pa.float64()),
            _take([C.CURRENCY], np.zeros(len(order_ts), np.int64)),
        ],
        schema=_arrow(BACKEND_ORDERS_SCHEMA),
    )
    items = pa.Table.from_arrays(
        [
            pa.array(ORDER_ITEM_ID_BASE + np.arange(len(item_order)), pa.int64()),
            pa.array(item_order, pa.int64()),
            _take([p.item_id for p in C.PRODUCTS], item_product),
            pa.array(item_quantity, pa.int64()),
            pa.array(prices[item_product], pa.float64()),
        ],
        schema=_arrow(BACKEND_ORDER_ITEMS_SCHEMA),
    )

    truth_order_id = np.full(total, -1, np.int64)
    truth_order_id[np.flatnonzero(in_backend)] = order_id[: len(b_sessions)]
    truth_order_id[g:] = order_id[len(b_sessions) :]
    truth_status = np.concatenate([status, np.full(backend_only, MISSING_IN_GA4, dtype=object)])
    truth_txn = np.concatenate([info.transaction_id[ga_sessions], o_txn]).astype(object)
    truth_ga_revenue = np.concatenate([ga_revenue, np.zeros(backend_only)])
    truth_backend_revenue = np.concatenate([np.where(in_backend, backend_revenue, 0.0), o_revenue])
    truth = pa.table(
        {
            "order_id": pa.array(truth_order_id, pa.int64(), mask=truth_order_id < 0),
            "ga_transaction_id": pa.array(truth_txn, pa.string()),
            "truth_status": pa.array(truth_status, pa.string()),
            "ga4_revenue": pa.array(truth_ga_revenue, pa.float64(), mask=np.arange(total) >= g),
            "backend_revenue": pa.array(
                truth_backend_revenue, pa.float64(), mask=np.concatenate([~in_backend, np.zeros(backend_only, bool)])
            ),
        }
    )
    counts = {
        f"orders_{name}": int((truth_status == name).sum())
        for name in (MATCHED, REVENUE_MISMATCH, MISSING_IN_GA4, MISSING_IN_BACKEND, DUPLICATE_IN_GA4)
    }
    return Backend(
        users=users,
        orders=orders,
        order_items=items,
        truth_orders=truth,
        counts=counts,
        linked_purchase_sessions=b_sessions,
    )
