"""Ground truth written beside the data (never read by the pipeline): who is who, and what really happened.

* ``devices``: owner person of each device, bots, shared devices, and ``linkable``:
  the device shares an identifier (login, e-mail, phone, or a purchase the backend
  ties to the person's account) with another device of the same person, so a sound
  resolver can link it. Only the owner's own actions count: logins on a kiosk and
  a guest's browsing on a household tablet link nothing. Bot devices are never linkable.
* ``identifiers``: every identifier value written (raw, as written) and its person.
* ``events``: one row per row of the GA4 files, in file order; the acting person,
  the session and journey it truly belongs to, and its dirt flags.
* ``orders``: written by ``sources.backend``.

True journeys are computed on the clean web events of each person across all
their devices: a journey ends with a purchase (a repeated purchase event of the
same transaction stays in it) and a gap longer than ``JOURNEY_TIMEOUT`` starts a
new one. Ad touches are not part of this definition.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from journeylake.sample.activity import DAY, Sessions
from journeylake.sample.catalog import DEVICE_CATEGORIES
from journeylake.sample.dirt import MALFORMED_KINDS, NOT_MALFORMED, RowPlan
from journeylake.sample.events import EVENT_NAMES, PURCHASE
from journeylake.sample.ga4 import day_strings, gclids, written_sequence, written_timestamps
from journeylake.sample.params import SampleParams
from journeylake.sample.timeline import EventRows, SessionInfo
from journeylake.sample.world import World

JOURNEY_TIMEOUT = 14 * DAY  # a gap strictly longer than this starts a new journey
MAX_LABEL_ROUNDS = 64
LOGIN_ID, EMAIL_ID, PHONE_ID, PURCHASE_ID = 0, 1, 2, 3


def _digits(values: np.ndarray) -> pa.Array:
    return pc.cast(pa.array(values.astype(np.int64)), pa.string())


def true_journey_numbers(rows: EventRows) -> np.ndarray:
    """1-based journey number of every clean event within its acting person."""
    order = np.lexsort((rows.seq, rows.device, rows.ts, rows.person))
    person, ts = rows.person[order], rows.ts[order]
    # A repeated purchase event also "closes" (the journey already ended) but never opens one.
    closes = rows.name[order] == PURCHASE
    new_person = np.ones(len(order), bool)
    new_person[1:] = person[1:] != person[:-1]
    starts = new_person.copy()
    starts[1:] |= (ts[1:] - ts[:-1]) > JOURNEY_TIMEOUT
    starts[1:] |= closes[:-1]
    starts &= ~(rows.is_duplicate_purchase[order] & ~new_person)
    count = np.cumsum(starts)
    base = np.maximum.accumulate(np.where(new_person, np.arange(len(order)), 0))
    number = np.empty(len(order), np.int64)
    number[order] = count - count[base] + 1
    return number


def truth_events(
    plan: RowPlan, rows: EventRows, info: SessionInfo, world: World, window_start: int, params: SampleParams
) -> pa.Table:
    """One row per GA4 file row, in plan order (the order the GA4 files are written in)."""
    src = plan.src
    session = rows.session[src]
    pseudo = pc.take(world.device_pseudo_id, pa.array(rows.device[src]))
    session_key = pc.binary_join_element_wise(pseudo, _digits(info.ga_session_id[session]), ".")
    journey = true_journey_numbers(rows)[src]
    person = rows.person[src]
    journey_key = pc.binary_join_element_wise("p", _digits(person), "-j", _digits(journey), "")
    days = day_strings(params.start_date, params.days)
    return pa.table(
        {
            "user_pseudo_id": pseudo,
            "event_timestamp": written_timestamps(plan, rows, window_start),
            "event_name": pc.take(pa.array(list(EVENT_NAMES)), pa.array(rows.name[src])),
            "event_bundle_sequence_id": written_sequence(plan, rows),
            "person_id": pa.array(person, pa.int64()),
            "true_session_key": session_key,
            "true_journey_key": journey_key,
            "is_duplicate": pa.array(plan.is_duplicate),
            "is_bot": pa.array(world.device_is_bot[rows.device[src]]),
            "is_malformed": pa.array(plan.malformed != NOT_MALFORMED),
            "malformed_kind": pc.take(pa.array(list(MALFORMED_KINDS)), pa.array(plan.malformed)),
            "is_late": pa.array(plan.is_late),
            "file_date": pc.take(pa.array(days), pa.array(plan.file_day)),
            "is_tie": pa.array(rows.is_tie[src] & ~plan.is_duplicate & (plan.malformed == NOT_MALFORMED)),
            "is_duplicate_purchase": pa.array(rows.is_duplicate_purchase[src]),
            "is_shared_device": pa.array(world.device_is_shared[rows.device[src]]),
            "acting_person_is_owner": pa.array(world.device_person[rows.device[src]] == person),
        }
    )


def device_components(world: World, rows: EventRows, s: Sessions, linked_purchase_sessions: np.ndarray) -> np.ndarray:
    """Label of each device's component in the graph of identifiers its owner used on it.

    Vectorized label propagation (min label over shared identifiers) until stable;
    identifiers are keyed by (kind, person) since each person's login, e-mail and
    phone are unique to them.
    """
    own = (world.device_person[rows.device] == rows.person) & ~world.device_is_kiosk[rows.device]
    own &= ~world.device_is_bot[rows.device]
    n = world.n_persons
    edges = [
        (rows.device[own & (rows.login_person >= 0)], LOGIN_ID * n + rows.person[own & (rows.login_person >= 0)]),
        (rows.device[own & (rows.email_code >= 0)], EMAIL_ID * n + rows.person[own & (rows.email_code >= 0)]),
        (rows.device[own & (rows.phone_code >= 0)], PHONE_ID * n + rows.person[own & (rows.phone_code >= 0)]),
    ]
    bought = linked_purchase_sessions[~s.is_kiosk[linked_purchase_sessions]]
    edges.append((s.device[bought], PURCHASE_ID * n + s.person[bought]))
    device = np.concatenate([e[0] for e in edges]).astype(np.int64)
    identifier = np.concatenate([e[1] for e in edges]).astype(np.int64)
    _, identifier = np.unique(identifier, return_inverse=True)
    label = np.arange(world.n_devices)
    for _ in range(MAX_LABEL_ROUNDS):
        identifier_min = np.full(identifier.max(initial=-1) + 1, np.iinfo(np.int64).max)
        np.minimum.at(identifier_min, identifier, label[device])
        updated = label.copy()
        np.minimum.at(updated, device, identifier_min[identifier])
        if np.array_equal(updated, label):
            break
        label = updated
    else:
        raise RuntimeError("device component labels did not converge")
    return label


def truth_devices(
    world: World, rows: EventRows, s: Sessions, linked_purchase_sessions: np.ndarray
) -> tuple[pa.Table, dict[str, int]]:
    label = device_components(world, rows, s, linked_purchase_sessions)
    size = np.bincount(label, minlength=world.n_devices)[label]
    linkable = (size >= 2) & ~world.device_is_bot
    seen = np.zeros(world.n_devices, bool)
    seen[rows.device] = True
    # Persons whose linkable devices form more than one group would make recall unreachable; count them.
    multi = np.flatnonzero(linkable)
    groups = np.unique(np.stack([world.device_person[multi], label[multi]]), axis=1)
    persons_split = int((np.bincount(groups[0]) > 1).sum()) if groups.size else 0
    devices = np.flatnonzero(seen)
    table = pa.table(
        {
            "user_pseudo_id": pc.take(world.device_pseudo_id, pa.array(devices)),
            "person_id": pa.array(world.device_person[devices], pa.int64()),
            "device_category": pc.take(pa.array(list(DEVICE_CATEGORIES)), pa.array(world.device_category[devices])),
            "is_bot": pa.array(world.device_is_bot[devices]),
            "is_shared": pa.array(world.device_is_shared[devices]),
            "linkable": pa.array(linkable[devices]),
        }
    )
    counts = {
        "devices": len(devices),
        "linkable_devices": int(linkable[devices].sum()),
        "persons_with_split_link_groups": persons_split,
    }
    return table, counts


def truth_identifiers(world: World, rows: EventRows, s: Sessions, info: SessionInfo) -> pa.Table:
    """Every identifier value written (raw) with its person; placeholders are nobody's and left out."""
    seen = np.zeros(world.n_devices, bool)
    seen[rows.device] = True
    devices = np.flatnonzero(seen)
    logins = np.unique(rows.login_person[rows.login_person >= 0])
    emails = np.unique(rows.email_code[rows.email_code >= 0])
    phones = np.unique(rows.phone_code[rows.phone_code >= 0])
    clicked = np.unique(rows.session[(rows.is_landing) & info.has_gclid[rows.session]])
    n = world.n_persons
    parts = [
        ("device", pc.take(world.device_pseudo_id, pa.array(devices)), world.device_person[devices], None),
        ("login", pc.take(world.person_login, pa.array(logins)), logins, None),
        ("email", pc.take(world.person_email_variants, pa.array(emails)), emails % n, world.person_email),
        ("phone", pc.take(world.person_phone_variants, pa.array(phones)), phones % n, world.person_phone),
        ("gclid", gclids(clicked), s.person[clicked], None),
    ]
    tables = []
    for id_type, values, person, normalized in parts:
        tables.append(
            pa.table(
                {
                    "id_type": pa.array([id_type] * len(values), pa.string()),
                    "id_value": values,
                    "person_id": pa.array(person, pa.int64()),
                    "id_value_normalized": values if normalized is None else pc.take(normalized, pa.array(person)),
                }
            )
        )
    return pa.concat_tables(tables)
