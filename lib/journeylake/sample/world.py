"""People and their devices: who owns what, who logs in, who leaves an e-mail, who shares a tablet.

Persons are numbered ``0..n-1`` (regular), then bots, then kiosk owners; a
person's own devices are contiguous (``person_device_start[p]`` for
``person_device_count[p]`` devices). The first device of a person is its
primary device. Identifiers are built vectorized with ``pyarrow.compute``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from journeylake.sample import catalog as C
from journeylake.sample.params import SampleParams

# Person kinds.
ANON, LOGIN, FORM, BOT, KIOSK_OWNER = 0, 1, 2, 3, 4
DEVICES_PER_PERSON_PROBS = (0.5, 0.33, 0.17)  # 1, 2 or 3 devices
FIRST_DEVICE_CATEGORY_PROBS = (0.5, 0.45, 0.05)  # desktop, mobile, tablet
OTHER_DEVICE_CATEGORY_PROBS = (0.35, 0.4, 0.25)
KIOSK_PERSON_CAP_DIVISOR = 4  # at most a quarter of the account holders use a kiosk
PRIOR_SESSIONS_MAX = 20  # returning devices had up to this many sessions before the window
# user_pseudo_id = "<9 digits>.<10 digits>" like the real export; the first part is a bijection of the
# device index (multiplier coprime with 10**9) so ids are unique without a lookup.
PSEUDO_ID_MULTIPLIER = 387_420_489
PSEUDO_ID_MODULUS = 1_000_000_000
PHONE_MULTIPLIER = 7_919
PHONE_SPAN = 7_000_000_000
PHONE_BASE = 2_000_000_000
LOGIN_MULTIPLIER = 48_271
LOGIN_MODULUS = 90_000_000
LOGIN_BASE = 10_000_000


@dataclass(frozen=True)
class World:
    n_regular: int  # persons 0..n_regular-1 are regular shoppers
    person_kind: np.ndarray  # int8, one of ANON, LOGIN, FORM, BOT, KIOSK_OWNER
    person_has_phone: np.ndarray  # bool
    person_place: np.ndarray  # index into catalog.PLACES
    person_device_start: np.ndarray
    person_device_count: np.ndarray
    person_login: pa.StringArray  # login id (meaningful for LOGIN persons)
    person_email: pa.StringArray  # normalized e-mail (trimmed, lower case)
    person_email_variants: pa.StringArray  # 4 raw spellings per person: variant v of person p at v * n + p
    person_phone_variants: pa.StringArray  # 4 raw formats per person, same layout
    person_phone: pa.StringArray  # normalized phone: "+" and digits
    device_person: np.ndarray  # owner
    device_category: np.ndarray  # index into catalog.DEVICE_CATEGORIES
    device_profile: np.ndarray  # index into catalog.DEVICE_PROFILES; -1 for bots (BOT_PROFILE)
    device_identified: np.ndarray  # bool: the owner logs in / fills a form on it
    device_is_bot: np.ndarray
    device_is_kiosk: np.ndarray
    device_is_household: np.ndarray  # a tablet another person also uses
    device_prior_sessions: np.ndarray  # sessions before the window (0: new device, gets first_visit)
    device_first_touch_offset: np.ndarray  # micros before the window start of the first visit (returning)
    device_pseudo_id: pa.StringArray
    household_guest: np.ndarray  # persons who also browse on ...
    household_tablet: np.ndarray  # ... this device of another person
    kiosk_user: np.ndarray  # persons who log in on ...
    kiosk_device: np.ndarray  # ... this kiosk device

    @property
    def n_persons(self) -> int:
        return len(self.person_kind)

    @property
    def n_devices(self) -> int:
        return len(self.device_person)

    @property
    def device_is_shared(self) -> np.ndarray:
        return self.device_is_kiosk | self.device_is_household


def _digits(values: np.ndarray) -> pa.Array:
    return pc.cast(pa.array(values, pa.int64()), pa.string())


def _join(*parts: pa.Array | str) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def build_world(params: SampleParams, rng: np.random.Generator) -> World:
    """Draw persons, their devices and identifiers."""
    n = params.n_persons
    n_bots = params.n_bot_devices
    n_kiosks = params.kiosk_devices
    kind_draw = rng.random(n)
    kind = np.where(
        kind_draw < params.login_share, LOGIN, np.where(kind_draw < params.login_share + params.form_share, FORM, ANON)
    ).astype(np.int8)
    kinds = np.concatenate([kind, np.full(n_bots, BOT, np.int8), np.full(n_kiosks, KIOSK_OWNER, np.int8)])
    n_all = len(kinds)

    count = np.ones(n_all, np.int64)
    count[:n] = rng.choice(len(DEVICES_PER_PERSON_PROBS), size=n, p=DEVICES_PER_PERSON_PROBS) + 1
    start = np.concatenate([[0], np.cumsum(count)[:-1]])
    n_devices = int(count.sum())
    device_person = np.repeat(np.arange(n_all), count)
    rank = np.arange(n_devices) - start[device_person]
    is_primary = rank == 0

    category = np.where(
        is_primary,
        rng.choice(3, size=n_devices, p=FIRST_DEVICE_CATEGORY_PROBS),
        rng.choice(3, size=n_devices, p=OTHER_DEVICE_CATEGORY_PROBS),
    )
    is_bot = kinds[device_person] == BOT
    is_kiosk = kinds[device_person] == KIOSK_OWNER
    category[is_bot] = C.DESKTOP
    category[is_kiosk] = C.TABLET
    profile_pick = rng.random(n_devices)
    profile = _pick_profiles(category, profile_pick)
    profile[is_bot] = -1

    person_kind_of_device = kinds[device_person]
    identified = ((person_kind_of_device == LOGIN) | (person_kind_of_device == FORM)) & (
        is_primary | (rng.random(n_devices) < params.extra_identified_device_prob)
    )

    prior = np.where(
        rng.random(n_devices) < params.returning_device_share, rng.integers(1, PRIOR_SESSIONS_MAX + 1, n_devices), 0
    )
    prior[is_bot] = 0
    # Shared devices were in use before the window: their first_visit is not ours to write.
    prior[is_kiosk] = np.maximum(prior[is_kiosk], 1)

    # Household tablets: a guest browses anonymously on another person's tablet.
    tablets = np.flatnonzero((category == C.TABLET) & (device_person < n) & ~is_bot)
    n_guests = min(round(params.household_share * n), len(tablets))
    household_tablet = np.sort(rng.choice(tablets, size=n_guests, replace=False)) if n_guests else np.zeros(0, int)
    guest_pool = rng.permutation(n)
    household_guest = guest_pool[~np.isin(guest_pool, device_person[household_tablet])][:n_guests].astype(np.int64)
    is_household = np.zeros(n_devices, bool)
    is_household[household_tablet] = True
    prior[is_household] = np.maximum(prior[is_household], 1)

    login_persons = np.flatnonzero(kind == LOGIN)
    kiosk_devices = np.flatnonzero(is_kiosk)
    per_kiosk = min(params.kiosk_persons, len(login_persons) // KIOSK_PERSON_CAP_DIVISOR)
    kiosk_user = np.zeros(0, np.int64)
    kiosk_device = np.zeros(0, np.int64)
    if per_kiosk and len(kiosk_devices):
        users = [np.sort(rng.choice(login_persons, size=per_kiosk, replace=False)) for _ in kiosk_devices]
        kiosk_user = np.concatenate(users)
        kiosk_device = np.repeat(kiosk_devices, per_kiosk)

    place = rng.choice(len(C.PLACES), size=n_all, p=C.PLACE_WEIGHTS)
    has_phone = rng.random(n_all) < params.phone_share

    window_seconds = int(rng.integers(10**8, 6 * 10**8))
    first_touch_offset = np.where(prior > 0, rng.integers(1, 365 * 86_400, n_devices) * 1_000_000, 0)
    pseudo_first = (np.arange(n_devices, dtype=np.int64) * PSEUDO_ID_MULTIPLIER + window_seconds) % PSEUDO_ID_MODULUS
    pseudo_second = 1_500_000_000 + rng.integers(0, 110_000_000, n_devices)
    pseudo_id = _join(_digits(pseudo_first), ".", _digits(pseudo_second))

    ids = np.arange(n_all, dtype=np.int64)
    login = _join("member-", _digits((ids * LOGIN_MULTIPLIER) % LOGIN_MODULUS + LOGIN_BASE))
    first = pc.take(pa.array(C.FIRST_NAMES), pa.array(rng.integers(0, len(C.FIRST_NAMES), n_all)))
    last = pc.take(pa.array(C.LAST_NAMES), pa.array(rng.integers(0, len(C.LAST_NAMES), n_all)))
    domain = pc.take(pa.array(C.EMAIL_DOMAINS), pa.array(rng.integers(0, len(C.EMAIL_DOMAINS), n_all)))
    email = _join(first, ".", last, _digits(ids), "@", domain)  # the person number keeps e-mails unique
    email_variants = pa.concat_arrays(
        [
            email,
            _join(pc.utf8_capitalize(email), " "),
            pc.utf8_upper(email),
            _join("  ", email),
        ]
    )
    phone_digits = _digits((ids * PHONE_MULTIPLIER) % PHONE_SPAN + PHONE_BASE)
    area = pc.utf8_slice_codeunits(phone_digits, 0, 3)
    exchange = pc.utf8_slice_codeunits(phone_digits, 3, 6)
    line = pc.utf8_slice_codeunits(phone_digits, 6, 10)
    phone = _join("+1", phone_digits)
    phone_variants = pa.concat_arrays(
        [
            _join("+1 (", area, ") ", exchange, "-", line),
            phone,
            _join("+1 ", area, "-", exchange, "-", line, " "),
            _join("+1.", area, ".", exchange, ".", line),
        ]
    )
    return World(
        n_regular=n,
        person_kind=kinds,
        person_has_phone=has_phone,
        person_place=place,
        person_device_start=start,
        person_device_count=count,
        person_login=login,
        person_email=email,
        person_email_variants=email_variants,
        person_phone_variants=phone_variants,
        person_phone=phone,
        device_person=device_person,
        device_category=category,
        device_profile=profile,
        device_identified=identified,
        device_is_bot=is_bot,
        device_is_kiosk=is_kiosk,
        device_is_household=is_household,
        device_prior_sessions=prior,
        device_first_touch_offset=first_touch_offset,
        device_pseudo_id=pseudo_id,
        household_guest=household_guest,
        household_tablet=household_tablet,
        kiosk_user=kiosk_user,
        kiosk_device=kiosk_device,
    )


def _pick_profiles(category: np.ndarray, pick: np.ndarray) -> np.ndarray:
    """A device profile of the right category for every device, vectorized per category."""
    profile = np.zeros(len(category), np.int64)
    for code, choices in enumerate(C.PROFILES_BY_CATEGORY):
        mask = category == code
        profile[mask] = np.asarray(choices)[(pick[mask] * len(choices)).astype(np.int64)]
    return profile
