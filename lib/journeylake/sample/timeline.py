"""The clean event log: planned events placed on the clock, with every GA4 attribute decided.

Input: the planned sessions (with clock times), their events and baskets.
Output: :class:`EventRows`, one row per clean event (no dirt yet) sorted by
device, time and order, carrying integer codes that ``ga4`` turns into the
export's strings and nested structs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from journeylake.sample import catalog as C
from journeylake.sample.activity import MICROS_PER_SECOND, Sessions
from journeylake.sample.events import (
    GENERATE_LEAD,
    ORDER_AUTH,
    PAGE_VIEW,
    PURCHASE,
    SIGN_UP,
    USER_ENGAGEMENT,
    Baskets,
    Events,
    basket_revenue,
)
from journeylake.sample.params import SampleParams
from journeylake.sample.world import FORM, LOGIN, World

ENGAGED_MIN_MICROS = 10 * MICROS_PER_SECOND  # GA4: engaged after 10 s, or 2 page views, or a conversion
ENGAGED_MIN_PAGES = 2
N_EMAIL_VARIANTS = 4
TRANSACTION_MULTIPLIER = 7_654_321
TRANSACTION_MODULUS = 9_000_000
TRANSACTION_BASE = 1_000_000


@dataclass(frozen=True)
class EventRows:
    """Clean events, one per row; ``-1`` means "none" in the code columns."""

    device: np.ndarray
    person: np.ndarray  # the person who acted (a guest on a household tablet, a kiosk user)
    session: np.ndarray  # planned session index
    name: np.ndarray
    page: np.ndarray
    previous_page: np.ndarray
    product: np.ndarray
    ts: np.ndarray  # micros since epoch, UTC
    seq: np.ndarray  # event_bundle_sequence_id: 1, 2, ... per device in time order
    engagement_ms: np.ndarray
    login_person: np.ndarray  # user_id = that person's login
    user_id_placeholder: np.ndarray  # index into catalog.USER_ID_PLACEHOLDERS
    email_code: np.ndarray  # index into world.person_email_variants
    email_placeholder: np.ndarray  # index into catalog.EMAIL_PLACEHOLDERS
    phone_code: np.ndarray  # index into world.person_phone_variants
    is_landing: np.ndarray  # carries the session's source/medium/campaign (and gclid)
    source_placeholder: np.ndarray  # index into catalog.SOURCE_PLACEHOLDERS
    title_placeholder: np.ndarray  # page_title written as "(not set)"
    is_tie: np.ndarray
    is_duplicate_purchase: np.ndarray  # a second purchase event for the same transaction

    def __len__(self) -> int:
        return len(self.device)


@dataclass(frozen=True)
class SessionInfo:
    """Per planned session: what GA4 writes about it (valid where ``kept``)."""

    kept: np.ndarray
    ga_session_id: np.ndarray  # start epoch seconds
    ga_session_number: np.ndarray
    engaged: np.ndarray
    has_gclid: np.ndarray
    transaction_id: np.ndarray  # object array of str ("" where none)
    revenue: np.ndarray  # purchase revenue (0 where none)
    has_purchase: np.ndarray  # a purchase event survived the window cut


def place_events(
    world: World,
    s: Sessions,
    events: Events,
    baskets: Baskets,
    kept_sessions: np.ndarray,
    window_end: int,
    params: SampleParams,
    rng: np.random.Generator,
) -> tuple[EventRows, SessionInfo]:
    """Clock times, device counters, identities and placeholders for every kept event."""
    kept = np.zeros(len(s), bool)
    kept[kept_sessions] = True
    ts_all = s.start[events.session] + events.offset
    keep_event = kept[events.session] & (ts_all < window_end)
    ev = events.take(np.flatnonzero(keep_event))
    ts = ts_all[keep_event]
    session = ev.session
    device = s.device[session]

    # Sessions whose events all fell after the window end are gone too.
    present = np.zeros(len(s), bool)
    present[session] = True
    kept &= present

    order = np.lexsort((ev.order, session, ts, device))
    ev = ev.take(order)
    ts, session, device = ts[order], session[order], device[order]
    seq = np.arange(len(ts)) - np.searchsorted(device, device) + 1

    ga_session_id = s.start // MICROS_PER_SECOND
    session_rows = np.flatnonzero(kept)
    by_device = session_rows[np.lexsort((s.start[session_rows], s.device[session_rows]))]
    rank = np.arange(len(by_device)) - np.searchsorted(s.device[by_device], s.device[by_device])
    ga_session_number = np.zeros(len(s), np.int64)
    ga_session_number[by_device] = world.device_prior_sessions[s.device[by_device]] + rank + 1

    pages_seen = np.bincount(session[ev.name == PAGE_VIEW], minlength=len(s))
    engaged_time = np.bincount(session, weights=np.where(ev.name == USER_ENGAGEMENT, ev.gap, 0), minlength=len(s))
    has_purchase = np.bincount(session[ev.name == PURCHASE], minlength=len(s)) > 0
    engaged = (pages_seen >= ENGAGED_MIN_PAGES) | (engaged_time >= ENGAGED_MIN_MICROS) | has_purchase

    person = s.person[session]
    kind = world.person_kind[person]
    login_here = (s.auth_event[session] > 0) & (ev.order >= ORDER_AUTH)
    logged_in = (kind == LOGIN) & (s.logged_in_before[session] | login_here)
    login_person = np.where(logged_in, person, -1)

    n_persons = world.n_persons
    email_variant = rng.integers(0, N_EMAIL_VARIANTS, len(ts))
    is_lead = ev.name == GENERATE_LEAD
    real_form = (ev.name == SIGN_UP) | (is_lead & (kind == FORM))
    email_code = np.where(real_form, email_variant * n_persons + person, -1)
    phone_code = np.where(
        real_form & world.person_has_phone[person], rng.integers(0, N_EMAIL_VARIANTS, len(ts)) * n_persons + person, -1
    )
    placeholder_lead = is_lead & ~real_form
    email_placeholder = np.where(placeholder_lead, rng.integers(0, len(C.EMAIL_PLACEHOLDERS), len(ts)), -1)

    is_landing = (ev.name == PAGE_VIEW) & (ev.previous_page < 0) & _is_first_page_view(session, ev.name)
    has_gclid = np.array([c.has_gclid for c in C.CAMPAIGNS])[s.campaign]

    n_e = len(ts)
    anonymous = (login_person < 0) & ~s.is_bot[session]
    user_id_placeholder = np.full(n_e, -1)
    rows = _exact_sample(np.flatnonzero(anonymous), params.placeholder_rate, rng)
    user_id_placeholder[rows] = rng.integers(0, len(C.USER_ID_PLACEHOLDERS), len(rows))
    source_placeholder = np.full(n_e, -1)
    rows = _exact_sample(np.flatnonzero(is_landing), params.placeholder_rate, rng)
    source_placeholder[rows] = rng.integers(0, len(C.SOURCE_PLACEHOLDERS), len(rows))
    title_placeholder = np.zeros(n_e, bool)
    title_placeholder[_exact_sample(np.arange(n_e), params.placeholder_rate, rng)] = True

    purchase_sessions = np.flatnonzero(has_purchase)
    transaction_id = np.full(len(s), "", dtype=object)
    numbers = (np.arange(len(purchase_sessions), dtype=np.int64) * TRANSACTION_MULTIPLIER + rng.integers(0, 10**6)) % (
        TRANSACTION_MODULUS
    ) + TRANSACTION_BASE
    transaction_id[purchase_sessions] = numbers.astype(str).astype(object)
    revenue = np.where(has_purchase, basket_revenue(baskets), 0.0)

    is_purchase = ev.name == PURCHASE
    earlier_purchase = np.zeros(n_e, bool)
    earlier_purchase[1:] = is_purchase[:-1] & (session[1:] == session[:-1])
    rows_out = EventRows(
        device=device,
        person=person,
        session=session,
        name=ev.name,
        page=ev.page,
        previous_page=ev.previous_page,
        product=ev.product,
        ts=ts,
        seq=seq.astype(np.int64),
        engagement_ms=np.where(ev.name == USER_ENGAGEMENT, ev.gap // 1000, -1),
        login_person=login_person,
        user_id_placeholder=user_id_placeholder,
        email_code=email_code,
        email_placeholder=email_placeholder,
        phone_code=phone_code,
        is_landing=is_landing,
        source_placeholder=source_placeholder,
        title_placeholder=title_placeholder,
        is_tie=ev.is_tie,
        is_duplicate_purchase=is_purchase & earlier_purchase,
    )
    info = SessionInfo(
        kept=kept,
        ga_session_id=ga_session_id,
        ga_session_number=ga_session_number,
        engaged=engaged,
        has_gclid=has_gclid,
        transaction_id=transaction_id,
        revenue=revenue,
        has_purchase=has_purchase,
    )
    return rows_out, info


def _is_first_page_view(session: np.ndarray, name: np.ndarray) -> np.ndarray:
    """True on the first page_view of each session (rows grouped by session within a device)."""
    rows = np.flatnonzero(name == PAGE_VIEW)
    _, first = np.unique(session[rows], return_index=True)
    mask = np.zeros(len(session), bool)
    mask[rows[first]] = True
    return mask


def _exact_sample(rows: np.ndarray, rate: float, rng: np.random.Generator) -> np.ndarray:
    """Exactly ``round(rate * len(rows))`` of ``rows``, sorted."""
    k = min(round(rate * len(rows)), len(rows))
    return np.sort(rng.choice(rows, size=k, replace=False)) if k else rows[:0]
