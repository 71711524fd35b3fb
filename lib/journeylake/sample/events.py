"""Sessions expanded into GA4 events, in order, with their offsets from the session start.

Every kind of event is generated as a block of arrays (session, order key, name,
page) and the blocks are merged with one sort, so there is no loop per event.
The order key fixes where an event sits in its session: first_visit and
session_start share the first microsecond (as GA4 logs them), the landing
page_view follows, then login/sign-up, the pages with their scrolls, product
views and engagement pings, a form, and the cart/checkout/purchase steps; a
purchase is always the last event of its session.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from journeylake.sample import catalog as C
from journeylake.sample.activity import MICROS_PER_SECOND, MINUTE, SIGN_UP_EVENT, Sessions

EVENT_NAMES = (
    "first_visit",
    "session_start",
    "page_view",
    "user_engagement",
    "scroll",
    "view_item",
    "add_to_cart",
    "begin_checkout",
    "purchase",
    "login",
    "sign_up",
    "generate_lead",
)
(
    FIRST_VISIT,
    SESSION_START,
    PAGE_VIEW,
    USER_ENGAGEMENT,
    SCROLL,
    VIEW_ITEM,
    ADD_TO_CART,
    BEGIN_CHECKOUT,
    PURCHASE,
    LOGIN,
    SIGN_UP,
    GENERATE_LEAD,
) = range(len(EVENT_NAMES))
ITEM_EVENTS = (VIEW_ITEM, ADD_TO_CART, BEGIN_CHECKOUT, PURCHASE)

# Order keys inside a session; page j sits at PAGE_STEP * j + PAGE_BASE.
ORDER_FIRST_VISIT, ORDER_SESSION_START, ORDER_LANDING, ORDER_AUTH = 0, 1, 2, 3
PAGE_BASE, PAGE_STEP = 10, 10
ORDER_VIEW_ITEM, ORDER_SCROLL, ORDER_ENGAGEMENT = 2, 5, 7  # offsets after a page's page_view
ORDER_LEAD, ORDER_CART, ORDER_CHECKOUT, ORDER_PURCHASE, ORDER_DUPLICATE_PURCHASE = 1000, 2000, 3000, 4000, 4001

SCROLL_PROB = 0.4
LANDING_PAGE_PROBS = (0.4, 0.35, 0.25)  # home, a category page, a product page
MAX_BASKET = 3
MAX_QUANTITY = 2
MEAN_EVENT_GAP = 18 * MICROS_PER_SECOND
MIN_EVENT_GAP = 300_000
MEAN_ENGAGEMENT_GAP = 25 * MICROS_PER_SECOND
MAX_EVENT_GAP = 8 * MINUTE  # far below the 30-minute timeout: a planned session never splits
LANDING_GAP = (50_000, 1_500_000)
BOT_GAP = (500_000, 3_000_000)
DUPLICATE_PURCHASE_GAP = (2 * MICROS_PER_SECOND, 30 * MICROS_PER_SECOND)


@dataclass(frozen=True)
class Baskets:
    """What each session puts in its cart: rows grouped by session (CSR over sessions)."""

    start: np.ndarray  # per session: first row
    count: np.ndarray  # per session: number of items
    product: np.ndarray
    quantity: np.ndarray


@dataclass(frozen=True)
class Events:
    """One row per event, sorted by session then order key (indices refer to the planned sessions)."""

    session: np.ndarray
    order: np.ndarray
    name: np.ndarray
    page: np.ndarray  # page code: < PRODUCT_PAGE_OFFSET a catalog page, else a product page
    previous_page: np.ndarray  # page code of the previous page_view (-1: none) for page_referrer
    product: np.ndarray  # view_item's product, else -1
    offset: np.ndarray  # micros since the session start
    gap: np.ndarray  # micros since the previous event of the session
    is_tie: np.ndarray  # injected: same microsecond as the previous event

    def __len__(self) -> int:
        return len(self.session)

    def take(self, index: np.ndarray) -> Events:
        return Events(**{name: getattr(self, name)[index] for name in self.__dataclass_fields__})


def expand_sessions(
    s: Sessions, duplicate_purchase: np.ndarray, tie_rate: float, rng: np.random.Generator
) -> tuple[Events, Baskets, np.ndarray]:
    """Events of every session, their baskets, and each session's duration (micros)."""
    n_s = len(s)
    n_products = len(C.PRODUCTS)
    sessions = np.arange(n_s)

    # Pages: page 0 is the landing page; pages 1..n_views show the viewed products.
    pv_session = np.repeat(sessions, s.n_pages)
    j = np.arange(len(pv_session)) - np.repeat(np.cumsum(s.n_pages) - s.n_pages, s.n_pages)
    viewed_product = rng.integers(0, n_products, len(pv_session))
    landing_kind = rng.choice(3, size=len(pv_session), p=LANDING_PAGE_PROBS)
    category_page = C.CATEGORY_FIRST + rng.integers(0, C.N_CATEGORY_PAGES, len(pv_session))
    product_page = C.PRODUCT_PAGE_OFFSET + viewed_product
    browse_page = np.where(rng.random(len(pv_session)) < 0.7, category_page, product_page)
    landing_page = np.choose(landing_kind, [np.full(len(pv_session), C.HOME), category_page, product_page])
    is_view_page = (j >= 1) & (j <= s.n_views[pv_session])
    page = np.where(j == 0, landing_page, np.where(is_view_page, product_page, browse_page))
    page_order = np.where(j == 0, ORDER_LANDING, PAGE_BASE + PAGE_STEP * j)
    previous_page = np.full(len(pv_session), -1)
    previous_page[1:] = np.where(j[1:] > 0, page[:-1], -1)
    landing_of_session = page[j == 0]

    blocks: list[dict[str, np.ndarray]] = []

    def block(
        session: np.ndarray, order: np.ndarray | int, name: int, page_code: np.ndarray | int, **extra: np.ndarray
    ) -> None:
        size = len(session)
        blocks.append(
            {
                "session": session,
                "order": np.broadcast_to(order, size).astype(np.int64),
                "name": np.full(size, name, np.int64),
                "page": np.broadcast_to(page_code, size).astype(np.int64),
                "previous_page": extra.get("previous_page", np.full(size, -1)),
                "product": extra.get("product", np.full(size, -1)),
            }
        )

    fv = np.flatnonzero(s.first_visit)
    block(fv, ORDER_FIRST_VISIT, FIRST_VISIT, landing_of_session[fv])
    block(sessions, ORDER_SESSION_START, SESSION_START, landing_of_session)
    block(pv_session, page_order, PAGE_VIEW, page, previous_page=previous_page)
    engaged_page = ~s.is_bounce[pv_session]
    block(pv_session[engaged_page], page_order[engaged_page] + ORDER_ENGAGEMENT, USER_ENGAGEMENT, page[engaged_page])
    scrolls = engaged_page & ~s.is_bot[pv_session] & (rng.random(len(pv_session)) < SCROLL_PROB)
    block(pv_session[scrolls], page_order[scrolls] + ORDER_SCROLL, SCROLL, page[scrolls])
    block(
        pv_session[is_view_page],
        page_order[is_view_page] + ORDER_VIEW_ITEM,
        VIEW_ITEM,
        page[is_view_page],
        product=viewed_product[is_view_page],
    )
    auth = np.flatnonzero(s.auth_event > 0)
    auth_is_signup = s.auth_event[auth] == SIGN_UP_EVENT
    block(auth[auth_is_signup], ORDER_AUTH, SIGN_UP, C.SIGNUP)
    block(auth[~auth_is_signup], ORDER_AUTH, LOGIN, landing_of_session[auth[~auth_is_signup]])
    lead = np.flatnonzero(s.form_event | s.placeholder_lead)
    block(lead, ORDER_LEAD, GENERATE_LEAD, C.CONTACT)
    block(np.flatnonzero(s.has_cart), ORDER_CART, ADD_TO_CART, C.CART)
    block(np.flatnonzero(s.has_checkout), ORDER_CHECKOUT, BEGIN_CHECKOUT, C.CHECKOUT)
    block(np.flatnonzero(s.has_purchase), ORDER_PURCHASE, PURCHASE, C.CONFIRMATION)
    block(np.flatnonzero(duplicate_purchase), ORDER_DUPLICATE_PURCHASE, PURCHASE, C.CONFIRMATION)

    merged = {key: np.concatenate([b[key] for b in blocks]) for key in blocks[0]}
    order = np.lexsort((merged["order"], merged["session"]))
    merged = {key: value[order] for key, value in merged.items()}
    session, name = merged["session"], merged["name"]
    n_e = len(session)

    gap = np.minimum(MIN_EVENT_GAP + rng.exponential(MEAN_EVENT_GAP, n_e).astype(np.int64), MAX_EVENT_GAP)
    engagement_gap = np.minimum(
        MIN_EVENT_GAP + rng.exponential(MEAN_ENGAGEMENT_GAP, n_e).astype(np.int64), MAX_EVENT_GAP
    )
    gap = np.where(name == USER_ENGAGEMENT, engagement_gap, gap)
    gap = np.where(merged["order"] == ORDER_LANDING, rng.integers(*LANDING_GAP, n_e), gap)
    gap = np.where(merged["order"] == ORDER_DUPLICATE_PURCHASE, rng.integers(*DUPLICATE_PURCHASE_GAP, n_e), gap)
    gap = np.where(s.is_bot[session], rng.integers(*BOT_GAP, n_e), gap)
    gap[merged["order"] <= ORDER_SESSION_START] = 0  # first_visit and session_start open the session together
    first_in_session = np.ones(n_e, bool)
    first_in_session[1:] = session[1:] != session[:-1]
    gap[first_in_session] = 0

    # Injected ties: an event logged in the same microsecond as the one before it.
    candidates = np.flatnonzero(gap > 0)
    n_ties = min(round(tie_rate * n_e), len(candidates))
    tie_rows = np.sort(rng.choice(candidates, size=n_ties, replace=False)) if n_ties else candidates[:0]
    gap[tie_rows] = 0
    is_tie = np.zeros(n_e, bool)
    is_tie[tie_rows] = True

    total = np.cumsum(gap)
    base = np.maximum.accumulate(np.where(first_in_session, np.arange(n_e), 0))
    offset = total - total[base]
    duration = np.zeros(n_s, np.int64)
    np.maximum.at(duration, session, offset)

    baskets = _baskets(s, pv_session, is_view_page, viewed_product, rng)
    events = Events(
        session=session,
        order=merged["order"],
        name=name,
        page=merged["page"],
        previous_page=merged["previous_page"],
        product=merged["product"],
        offset=offset,
        gap=gap,
        is_tie=is_tie,
    )
    return events, baskets, duration


def _baskets(
    s: Sessions, pv_session: np.ndarray, is_view_page: np.ndarray, viewed_product: np.ndarray, rng: np.random.Generator
) -> Baskets:
    """A cart of 1..MAX_BASKET of the session's viewed products (sessions with a cart only)."""
    size = np.where(s.has_cart, np.minimum(s.n_views, rng.integers(1, MAX_BASKET + 1, len(s))), 0)
    view_rows = np.flatnonzero(is_view_page)
    view_session = pv_session[view_rows]
    view_rank = np.arange(len(view_rows)) - np.searchsorted(view_session, view_session)
    in_basket = view_rank < size[view_session]
    rows = view_rows[in_basket]
    count = size
    start = np.cumsum(count) - count
    return Baskets(
        start=start,
        count=count,
        product=viewed_product[rows],
        quantity=rng.integers(1, MAX_QUANTITY + 1, len(rows)),
    )


def basket_revenue(baskets: Baskets) -> np.ndarray:
    """Revenue per session: sum of price x quantity over its basket, in cents-exact dollars."""
    prices = np.array([p.price for p in C.PRODUCTS])
    line = np.round(prices[baskets.product] * baskets.quantity, 2)
    owner = np.repeat(np.arange(len(baskets.count)), baskets.count)
    revenue = np.zeros(len(baskets.count))
    np.add.at(revenue, owner, line)
    return np.round(revenue, 2)
