"""Journeys and sessions: what each person does, on which device, in which order.

A person has one or two planned journeys ("episodes"). Each reaches a depth:
aware (a visit or two), considering (product views), intent (cart, maybe
checkout: an abandoned cart) or converted (the last session ends with a
purchase). A second episode starts after a purchase, or after a gap longer
than 14 days. Sessions are planned here without clock times; ``events``
expands them, and :func:`schedule_sessions` places them on the clock once their
durations are known, so consecutive sessions of a person never come within the
30-minute session timeout of each other.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from journeylake.sample import catalog as C
from journeylake.sample.params import SampleParams
from journeylake.sample.world import ANON, FORM, LOGIN, World

AWARE, CONSIDERING, INTENT, CONVERTED = 0, 1, 2, 3
MICROS_PER_SECOND = 1_000_000
MINUTE = 60 * MICROS_PER_SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR
# Gaps between sessions of one person: never under this, so a new session always starts (timeout is 30 min).
MIN_SESSION_GAP = 45 * MINUTE
MEAN_SESSION_GAP = int(1.2 * DAY)
MAX_SESSION_GAP = 9 * DAY  # inside a journey: well under the 14-day journey timeout
RETURN_AFTER_PURCHASE = (2 * HOUR, 10 * DAY)
RETURN_AFTER_LONG_GAP = (15 * DAY, 24 * DAY)  # longer than the 14-day journey timeout: a new journey
ORIGIN_SHARE_OF_WINDOW = 0.85  # persons start somewhere in the first 85% of the window
SHARED_DEVICE_CLEARANCE = 31 * MINUTE  # sessions of different persons on one device stay this far apart
SESSIONS_BY_DEPTH = ((1, 3), (2, 6), (3, 7), (3, 8))  # [low, high) sessions per journey, by depth
BOUNCE_PROB = 0.4  # of first aware-only sessions, the share that leave after one page
PAGE_GEOMETRIC_P = (0.5, 0.25, 0.22, 0.22)  # pages per session ~ geometric, by depth
MAX_PAGES = 12
MAX_VIEWS = 3
BOT_PAGES = 50  # pages per bot session (each with a user_engagement): ~100 events per session
BOT_SESSION_GAP = (35 * MINUTE, 60 * MINUTE)
# Authentication events.
NO_AUTH, LOGIN_EVENT, SIGN_UP_EVENT = 0, 1, 2


@dataclass(frozen=True)
class Sessions:
    """One row per planned session, sorted by person, then episode, then position in the episode."""

    person: np.ndarray
    device: np.ndarray
    episode: np.ndarray  # global episode id
    episode_index: np.ndarray  # 0 or 1 within the person
    position: np.ndarray  # 0-based position within the episode
    depth: np.ndarray  # the episode's depth
    is_last: np.ndarray  # last session of its episode
    lost_to_competitor: np.ndarray  # the episode ends with a competitor exposure and no purchase
    campaign: np.ndarray  # index into catalog.CAMPAIGNS
    n_pages: np.ndarray
    n_views: np.ndarray
    is_bounce: np.ndarray
    has_cart: np.ndarray
    has_checkout: np.ndarray
    has_purchase: np.ndarray
    is_bot: np.ndarray
    is_kiosk: np.ndarray  # a kiosk user's login session on the shared kiosk
    is_guest: np.ndarray  # a household guest browsing on someone else's tablet
    auth_event: np.ndarray  # NO_AUTH, LOGIN_EVENT or SIGN_UP_EVENT
    logged_in_before: np.ndarray  # the person is already logged in on this device when the session starts
    form_event: np.ndarray  # a generate_lead form with the person's e-mail (and phone)
    placeholder_lead: np.ndarray  # a form with a placeholder e-mail instead
    first_visit: np.ndarray  # the device's first session ever: GA4 logs first_visit
    gap_before: np.ndarray  # micros between the previous session's end (or the window start) and this start
    start: np.ndarray  # micros since epoch; set by schedule_sessions
    end: np.ndarray

    def __len__(self) -> int:
        return len(self.person)

    def take(self, index: np.ndarray) -> Sessions:
        return Sessions(**{name: getattr(self, name)[index] for name in self.__dataclass_fields__})


def group_starts(keys: np.ndarray) -> np.ndarray:
    """True where a run of equal ``keys`` begins (keys already grouped)."""
    starts = np.ones(len(keys), bool)
    starts[1:] = keys[1:] != keys[:-1]
    return starts


def group_cumsum(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Cumulative sum of ``values`` restarting where ``starts`` is True."""
    total = np.cumsum(values)
    base = np.maximum.accumulate(np.where(starts, np.arange(len(values)), 0))
    return total - total[base] + values[base]


def first_of_group(keys: np.ndarray, eligible: np.ndarray) -> np.ndarray:
    """Mask of the first eligible row (in array order) of each key."""
    rows = np.flatnonzero(eligible)
    _, first = np.unique(keys[rows], return_index=True)
    mask = np.zeros(len(keys), bool)
    mask[rows[first]] = True
    return mask


def pick_one_per_person(person: np.ndarray, eligible: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Row indices: one random eligible row for each person that has any."""
    rows = np.flatnonzero(eligible)
    key = rng.random(len(rows))
    rows = rows[np.lexsort((key, person[rows]))]
    _, first = np.unique(person[rows], return_index=True)
    return np.sort(rows[first])


def plan_sessions(world: World, params: SampleParams, rng: np.random.Generator) -> Sessions:
    """Episodes, sessions, devices and what happens in each session (no clock times yet)."""
    regular = _plan_regular(world, params, rng)
    bots = _plan_bots(world, params, rng, first_episode=int(regular.episode.max(initial=-1)) + 1)
    sessions = Sessions(
        **{
            name: np.concatenate([getattr(regular, name), getattr(bots, name)])
            for name in Sessions.__dataclass_fields__
        }
    )
    return _with_identity_events(world, params, sessions, rng)


def _plan_regular(world: World, params: SampleParams, rng: np.random.Generator) -> Sessions:
    n = world.n_regular
    fatigue = world_fatigue(world, params)
    n_episodes = np.where(fatigue, 1, 1 + (rng.random(n) < params.return_share))
    ep_person = np.repeat(np.arange(n), n_episodes)
    ep_index = np.arange(len(ep_person)) - np.repeat(np.cumsum(n_episodes) - n_episodes, n_episodes)
    depth = rng.choice(4, size=len(ep_person), p=params.depth_probs)
    depth = np.where(fatigue[ep_person], np.minimum(depth, CONSIDERING), depth)
    lost = (depth == INTENT) & (rng.random(len(depth)) < params.competitor_loss_share)
    # A person lost to a competitor does not come back inside the window.
    lost_first = np.zeros(n, bool)
    lost_first[ep_person[lost & (ep_index == 0)]] = True
    keep = ~((ep_index == 1) & lost_first[ep_person])
    ep_person, ep_index, depth, lost = ep_person[keep], ep_index[keep], depth[keep], lost[keep]
    n_ep = len(ep_person)

    bounds = np.asarray(SESSIONS_BY_DEPTH)
    n_sessions = rng.integers(bounds[depth, 0], bounds[depth, 1])
    s_episode = np.repeat(np.arange(n_ep), n_sessions)
    position = np.arange(len(s_episode)) - np.repeat(np.cumsum(n_sessions) - n_sessions, n_sessions)
    is_last = position == n_sessions[s_episode] - 1
    person = ep_person[s_episode]
    s_depth = depth[s_episode]
    s_ep_index = ep_index[s_episode]
    n_s = len(person)

    # Devices: the first session on the primary device, later ones on any own device; a purchase
    # happens where the person is identified (logged in / known), or on the primary device.
    own = world.person_device_start[person] + (rng.random(n_s) * world.person_device_count[person]).astype(np.int64)
    primary = world.person_device_start[person]
    device = np.where((position == 0) & (s_ep_index == 0), primary, own)
    converting = (s_depth == CONVERTED) & is_last
    device = np.where(converting & ~world.device_identified[device], primary, device)

    first_weights = np.array([c.first_weight for c in C.CAMPAIGNS])
    later_weights = np.array([c.later_weight for c in C.CAMPAIGNS])
    campaign = np.where(
        position == 0,
        rng.choice(len(C.CAMPAIGNS), size=n_s, p=first_weights / first_weights.sum()),
        rng.choice(len(C.CAMPAIGNS), size=n_s, p=later_weights / later_weights.sum()),
    )

    # Kiosk users log in once on the kiosk, household guests browse on their host's tablet.
    not_first = ~((position == 0) & (s_ep_index == 0))
    is_kiosk = np.zeros(n_s, bool)
    is_guest = np.zeros(n_s, bool)
    if len(world.kiosk_user):
        rows = pick_one_per_person(person, ~converting & not_first & np.isin(person, world.kiosk_user), rng)
        kiosk_of = dict(zip(world.kiosk_user.tolist(), world.kiosk_device.tolist(), strict=True))
        device[rows] = [kiosk_of[p] for p in person[rows].tolist()]
        is_kiosk[rows] = True
    n_households = min(len(world.household_guest), len(world.household_tablet))
    if n_households:
        guests = world.household_guest[:n_households]
        rows = pick_one_per_person(person, ~converting & not_first & ~is_kiosk & np.isin(person, guests), rng)
        tablet_of = dict(zip(guests.tolist(), world.household_tablet[:n_households].tolist(), strict=True))
        device[rows] = [tablet_of[p] for p in person[rows].tolist()]
        is_guest[rows] = True
    campaign[is_kiosk | is_guest] = C.DIRECT_CAMPAIGN

    bounce = (s_depth == AWARE) & (position == 0) & (rng.random(n_s) < BOUNCE_PROB)
    n_pages = np.minimum(rng.geometric(np.asarray(PAGE_GEOMETRIC_P)[s_depth]), MAX_PAGES)
    n_views = np.where(
        (s_depth >= CONSIDERING) & ((position > 0) | (rng.random(n_s) < 0.5)), rng.integers(1, MAX_VIEWS + 1, n_s), 0
    )
    shared = is_kiosk | is_guest
    has_cart = (s_depth >= INTENT) & (is_last | ((position == n_sessions[s_episode] - 2) & (rng.random(n_s) < 0.5)))
    has_cart &= ~shared
    has_checkout = has_cart & is_last & ((s_depth == CONVERTED) | (rng.random(n_s) < 0.6))
    has_purchase = converting
    n_views = np.where(has_cart, np.maximum(n_views, 1), n_views)
    n_pages = np.where(bounce, 1, np.maximum(n_pages, n_views + 1))

    gap = np.minimum(MIN_SESSION_GAP + rng.exponential(MEAN_SESSION_GAP, n_s).astype(np.int64), MAX_SESSION_GAP)
    episode_start = (position == 0) & (s_ep_index == 1)
    previous_converted = np.zeros(n_s, bool)
    previous_converted[1:] = s_depth[:-1] == CONVERTED
    gap = np.where(
        episode_start,
        np.where(
            previous_converted,
            rng.integers(*RETURN_AFTER_PURCHASE, n_s),
            rng.integers(*RETURN_AFTER_LONG_GAP, n_s),
        ),
        gap,
    )
    window = params.days * DAY
    origin = (rng.random(n_s) * window * ORIGIN_SHARE_OF_WINDOW).astype(np.int64)
    gap = np.where((position == 0) & (s_ep_index == 0), origin, gap)

    zeros = np.zeros(n_s, np.int64)
    false = np.zeros(n_s, bool)
    return Sessions(
        person=person,
        device=device,
        episode=s_episode,
        episode_index=s_ep_index,
        position=position,
        depth=s_depth,
        is_last=is_last,
        lost_to_competitor=lost[s_episode],
        campaign=campaign,
        n_pages=n_pages,
        n_views=n_views,
        is_bounce=bounce,
        has_cart=has_cart,
        has_checkout=has_checkout,
        has_purchase=has_purchase,
        is_bot=false.copy(),
        is_kiosk=is_kiosk,
        is_guest=is_guest,
        auth_event=zeros.copy(),
        logged_in_before=false.copy(),
        form_event=false.copy(),
        placeholder_lead=false.copy(),
        first_visit=false.copy(),
        gap_before=gap,
        start=zeros.copy(),
        end=zeros.copy(),
    )


def world_fatigue(world: World, params: SampleParams) -> np.ndarray:
    """Persons chosen for ad fatigue: a fixed, evenly spread subset so the draw does not disturb others."""
    n = world.n_regular
    k = round(params.fatigue_share * n)
    mask = np.zeros(n, bool)
    if k:
        mask[np.linspace(0, n - 1, k).astype(np.int64)] = True
    return mask


def _plan_bots(world: World, params: SampleParams, rng: np.random.Generator, first_episode: int) -> Sessions:
    bot_devices = np.flatnonzero(world.device_is_bot)
    per_bot = max(1, round(params.bot_events / (1 + 2 * BOT_PAGES)))
    device = np.repeat(bot_devices, per_bot)
    n_s = len(device)
    position = np.tile(np.arange(per_bot), len(bot_devices))
    window = params.days * DAY
    gap = rng.integers(*BOT_SESSION_GAP, n_s)
    # Bots hammer the site for a day or two somewhere in the first half of the window.
    gap[position == 0] = rng.integers(0, window // 2, len(bot_devices))
    zeros = np.zeros(n_s, np.int64)
    false = np.zeros(n_s, bool)
    return Sessions(
        person=world.device_person[device],
        device=device,
        episode=first_episode + np.repeat(np.arange(len(bot_devices)), per_bot),
        episode_index=zeros.copy(),
        position=position,
        depth=zeros.copy(),
        is_last=position == per_bot - 1,
        lost_to_competitor=false.copy(),
        campaign=np.full(n_s, C.DIRECT_CAMPAIGN),
        n_pages=np.full(n_s, BOT_PAGES),
        n_views=zeros.copy(),
        is_bounce=false.copy(),
        has_cart=false.copy(),
        has_checkout=false.copy(),
        has_purchase=false.copy(),
        is_bot=~false,
        is_kiosk=false.copy(),
        is_guest=false.copy(),
        auth_event=zeros.copy(),
        logged_in_before=false.copy(),
        form_event=false.copy(),
        placeholder_lead=false.copy(),
        first_visit=position == 0,
        gap_before=gap,
        start=zeros.copy(),
        end=zeros.copy(),
    )


def _with_identity_events(world: World, params: SampleParams, s: Sessions, rng: np.random.Generator) -> Sessions:
    """Logins, sign-ups, forms and first visits, decided in each person's session order."""
    kind = world.person_kind[s.person]
    own_identified = (world.device_person[s.device] == s.person) & world.device_identified[s.device] & ~s.is_kiosk
    pair = s.person * world.n_devices + s.device

    login_own = own_identified & (kind == LOGIN)
    first_login_here = first_of_group(pair, login_own)
    sign_up = first_of_group(s.person, first_login_here)
    auth = np.where(sign_up, SIGN_UP_EVENT, np.where(first_login_here | s.is_kiosk, LOGIN_EVENT, NO_AUTH))
    # Logged in from the first login on a device onwards (the kiosk logs every user out after a session).
    order = np.lexsort((np.arange(len(s)), pair))
    seen = group_cumsum(first_login_here[order].astype(np.int64), group_starts(pair[order])) - first_login_here[order]
    logged_in_before = np.zeros(len(s), bool)
    logged_in_before[order] = (seen > 0) & login_own[order]

    form = first_of_group(pair, own_identified & (kind == FORM))
    anon_persons = np.flatnonzero(world.person_kind[: world.n_regular] == ANON)
    n_placeholder = round(params.placeholder_lead_share * len(anon_persons))
    chosen = rng.choice(anon_persons, size=n_placeholder, replace=False) if n_placeholder else anon_persons[:0]
    placeholder_lead = first_of_group(s.person, np.isin(s.person, chosen) & ~s.is_guest)

    new_device = (world.device_prior_sessions[s.device] == 0) & ~world.device_is_shared[s.device]
    first_visit = first_of_group(s.device, new_device)
    return replace(
        s,
        auth_event=auth,
        logged_in_before=logged_in_before,
        form_event=form,
        placeholder_lead=placeholder_lead,
        first_visit=first_visit,
    )


def schedule_sessions(
    s: Sessions, duration: np.ndarray, window_start: int, rng: np.random.Generator
) -> tuple[Sessions, np.ndarray]:
    """Clock times for every session, and the sessions kept.

    A person's sessions follow one another (previous end + gap). On shared devices
    (kiosk, household tablet) the owner's sessions win and another person's session
    is dropped when it would come within ``SHARED_DEVICE_CLEARANCE`` of a kept one,
    because a single browser cannot hold two people's sessions at once.
    Returns the sessions with ``start``/``end`` set and the indices of the kept ones.
    """
    starts_of_person = group_starts(s.person)
    previous_duration = np.zeros(len(s), np.int64)
    previous_duration[1:] = duration[:-1]
    previous_duration[starts_of_person] = 0
    start = window_start + group_cumsum(s.gap_before + previous_duration, starts_of_person)
    end = start + duration
    scheduled = replace(s, start=start, end=end)

    keep = np.ones(len(s), bool)
    shared_rows = np.flatnonzero(s.is_kiosk | s.is_guest)
    if len(shared_rows):
        shared_devices = np.unique(s.device[shared_rows])
        on_shared = np.flatnonzero(np.isin(s.device, shared_devices))
        for device in shared_devices.tolist():
            rows = on_shared[s.device[on_shared] == device]
            owner_rows = rows[~(s.is_kiosk[rows] | s.is_guest[rows])]
            kept: list[tuple[int, int]] = sorted((int(start[r]), int(end[r])) for r in owner_rows)
            for r in rows[np.argsort(start[rows], kind="stable")]:
                if not (s.is_kiosk[r] or s.is_guest[r]):
                    continue
                lo, hi = int(start[r]) - SHARED_DEVICE_CLEARANCE, int(end[r]) + SHARED_DEVICE_CLEARANCE
                if any(a < hi and b > lo for a, b in kept):
                    keep[r] = False
                else:
                    kept.append((int(start[r]), int(end[r])))
    return scheduled, np.flatnonzero(keep)
