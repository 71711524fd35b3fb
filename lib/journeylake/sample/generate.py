"""Generate a whole sample world: persons, GA4 events, other sources, ground truth, manifest.

Deterministic: every random draw comes from one seeded ``SeedSequence`` split
into a stream per component, and files are written with fixed options, so the
same parameters give the same bytes. Fast: numpy and pyarrow throughout, with
loops only over small things (days, campaigns, shared devices).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from journeylake.sample.activity import CONVERTED, DAY, INTENT, plan_sessions, schedule_sessions
from journeylake.sample.dirt import MALFORMED_KINDS, plan_rows
from journeylake.sample.events import EVENT_NAMES, expand_sessions
from journeylake.sample.ga4 import build_ga4_table, day_strings
from journeylake.sample.params import SampleParams
from journeylake.sample.sources import ad_touchpoints, backend, competitor_exposures
from journeylake.sample.timeline import place_events
from journeylake.sample.truth import truth_devices, truth_events, truth_identifiers
from journeylake.sample.world import build_world
from journeylake.sample.writer import TableSource, write_world

GENERATOR_VERSION = 1  # bump when the same parameters would produce different data
STREAMS = ("world", "sessions", "events", "schedule", "timeline", "dirt", "ads", "competitors", "backend")


def window_of(params: SampleParams) -> tuple[int, int]:
    """[start, end) of the simulated window in micros since the epoch (UTC)."""
    start = datetime(params.start_date.year, params.start_date.month, params.start_date.day, tzinfo=UTC)
    start_micros = int(start.timestamp()) * 1_000_000
    return start_micros, start_micros + params.days * DAY


def build_world_tables(params: SampleParams) -> tuple[dict[str, TableSource], dict[str, pa.Table], dict[str, Any]]:
    """Everything a world consists of: Parquet tables (the GA4 days as builders), CSV tables, the manifest.

    Keys are paths relative to the output folder.
    """
    rngs = dict(
        zip(
            STREAMS,
            (np.random.default_rng(s) for s in np.random.SeedSequence(params.seed).spawn(len(STREAMS))),
            strict=True,
        )
    )
    window = window_of(params)
    world = build_world(params, rngs["world"])
    planned = plan_sessions(world, params, rngs["sessions"])

    purchases = np.flatnonzero(planned.has_purchase)
    n_dup = round(params.duplicate_in_ga4_rate * len(purchases))
    dup_sessions = np.sort(rngs["events"].choice(purchases, size=n_dup, replace=False)) if n_dup else purchases[:0]
    dup_mask = np.zeros(len(planned), bool)
    dup_mask[dup_sessions] = True
    events, baskets, duration = expand_sessions(planned, dup_mask, params.tie_rate, rngs["events"])
    sessions, kept = schedule_sessions(planned, duration, window[0], rngs["schedule"])
    rows, info = place_events(world, sessions, events, baskets, kept, window[1], params, rngs["timeline"])

    plan = plan_rows(rows, window[0], params, rngs["dirt"])
    order = np.lexsort(
        (plan.is_duplicate, plan.malformed, rows.seq[plan.src], rows.device[plan.src], rows.ts[plan.src], plan.file_day)
    )
    plan = plan.take(order)

    touches, cost_daily, ad_counts = ad_touchpoints(sessions, info, world, params, window, rngs["ads"])
    exposures, exposure_counts = competitor_exposures(sessions, info, world, params, window, rngs["competitors"])
    present_dups = np.unique(rows.session[rows.is_duplicate_purchase])
    shop = backend(sessions, info, baskets, present_dups, world, params, window, rngs["backend"])

    devices, device_counts = truth_devices(world, rows, sessions, shop.linked_purchase_sessions)
    truth = {
        "truth/devices.parquet": devices,
        "truth/identifiers.parquet": truth_identifiers(world, rows, sessions, info),
        "truth/events.parquet": truth_events(plan, rows, info, world, window[0], params),
        "truth/orders.parquet": shop.truth_orders,
    }

    days = day_strings(params.start_date, params.days)
    bounds = np.searchsorted(plan.file_day, np.arange(params.days + 1))

    def ga4_file(first: int, stop: int) -> Callable[[], pa.Table]:
        # Built when written, one day at a time, so memory does not grow with the whole export.
        day_plan = plan.take(np.arange(first, stop))
        return lambda: build_ga4_table(
            day_plan, rows, info, sessions, baskets, world, window[0], params.start_date, params.days
        )

    parquet: dict[str, TableSource] = {
        f"ga4/events_{day}.parquet": ga4_file(int(bounds[i]), int(bounds[i + 1])) for i, day in enumerate(days)
    }
    parquet |= {
        "ad_touchpoints/part-00000.parquet": touches,
        "ad_cost_daily/part-00000.parquet": cost_daily,
        "competitor_exposures/part-00000.parquet": exposures,
        "backend/users/part-00000.parquet": shop.users,
        "backend/orders/part-00000.parquet": shop.orders,
        "backend/order_items/part-00000.parquet": shop.order_items,
        **truth,
    }
    csv = {
        "backend_csv/users.csv": shop.users,
        "backend_csv/orders.csv": shop.orders,
        "backend_csv/order_items.csv": shop.order_items,
    }

    clean = (plan.malformed == 0) & ~plan.is_duplicate
    kept_sessions = info.kept
    episode_start = kept_sessions & (sessions.position == 0) & (sessions.episode_index == 1)
    previous_depth = np.concatenate([[CONVERTED], sessions.depth[:-1]])
    dirt: dict[str, int] = {
        "duplicate_rows": int(plan.is_duplicate.sum()),
        "late_rows": int((plan.is_late & ~plan.is_duplicate).sum()),
        "tied_timestamps": int(rows.is_tie.sum()),
        "placeholder_user_ids": int((rows.user_id_placeholder >= 0).sum()),
        "placeholder_sources": int((rows.source_placeholder >= 0).sum()),
        "placeholder_page_titles": int(rows.title_placeholder.sum()),
        "placeholder_emails": int((rows.email_placeholder >= 0).sum()),
        "duplicate_purchase_events": int(rows.is_duplicate_purchase.sum()),
        "bot_devices": int(world.device_is_bot.sum()),
        "bot_events": int((world.device_is_bot[rows.device]).sum()),
        "kiosk_devices": int(world.device_is_kiosk.sum()),
        "kiosk_sessions": int((kept_sessions & sessions.is_kiosk).sum()),
        "household_guest_sessions": int((kept_sessions & sessions.is_guest).sum()),
        "shared_device_sessions_dropped": int(
            ((sessions.is_kiosk | sessions.is_guest) & ~np.isin(np.arange(len(sessions)), kept)).sum()
        ),
    }
    for code, kind in enumerate(MALFORMED_KINDS):
        if code:
            dirt[f"malformed_{kind}"] = int((plan.malformed == code).sum())
    behaviour = {
        "sessions": int(kept_sessions.sum()),
        "purchases": int(info.has_purchase.sum()),
        "abandoned_cart_sessions": int((kept_sessions & sessions.has_cart & ~info.has_purchase).sum()),
        "returns_after_long_gap": int((episode_start & (previous_depth != CONVERTED)).sum()),
        "returns_after_purchase": int((episode_start & (previous_depth == CONVERTED)).sum()),
        "intent_journeys_lost_planned": int(
            np.unique(sessions.episode[kept_sessions & sessions.lost_to_competitor & (sessions.depth == INTENT)]).size
        ),
        **ad_counts,
        **exposure_counts,
        **shop.counts,
        **device_counts,
    }
    names = np.asarray(EVENT_NAMES)[rows.name]
    end_date = params.start_date + timedelta(days=params.days - 1)
    manifest: dict[str, Any] = {
        "generator_version": GENERATOR_VERSION,
        "seed": params.seed,
        "scale": params.scale,
        "parameters": params.as_dict(),
        "date_range": {"start": params.start_date.isoformat(), "end": end_date.isoformat(), "days": params.days},
        "counts": {
            "persons": int(world.n_persons),
            "devices": int(world.n_devices),
            "ga4_rows": len(plan),
            "ga4_clean_events": int(clean.sum()),
            **{f"ga4_{name}": int((names == name).sum()) for name in EVENT_NAMES},
            **{_table_name(path): t.num_rows for path, t in parquet.items() if isinstance(t, pa.Table)},
        },
        "dirt": dirt,
        "behaviour": behaviour,
    }
    return parquet, csv, manifest


def _table_name(path: str) -> str:
    """``backend/orders/part-00000.parquet`` -> ``backend_orders``; ``truth/devices.parquet`` -> ``truth_devices``."""
    parts = path.removesuffix(".parquet").split("/")
    return "_".join(p for p in parts if p != "part-00000")


def generate_world(out_dir: Path, params: SampleParams) -> dict[str, Any]:
    """Generate the world described by ``params`` into ``out_dir`` and return its manifest."""
    parquet, csv, manifest = build_world_tables(params)
    write_world(Path(out_dir), parquet, csv, manifest)
    return manifest
