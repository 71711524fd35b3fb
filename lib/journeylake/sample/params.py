"""Parameters of the generated sample world, with documented defaults.

``scale`` multiplies the number of persons (1.0 is about 3,000 persons and a few
hundred thousand GA4 events over 30 days); every rate below is a share of the
rows or persons it names, so dirt grows with the world. Counts of dirt rows are
drawn exactly (``round(rate * rows)``), not by coin flips, so tests can check
them tightly even on tiny worlds.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date
from typing import Any

MIN_PERSONS = 40  # below this the world cannot hold every behaviour the tests look for


@dataclass(frozen=True)
class SampleParams:
    seed: int = 42
    scale: float = 1.0
    persons_per_scale: int = 3000
    start_date: date = date(2021, 1, 1)
    days: int = 30

    # --- people and identifiers -------------------------------------------------
    login_share: float = 0.45  # persons with an account; they log in on most of their devices
    form_share: float = 0.25  # persons without an account who leave an e-mail (and maybe a phone) on forms
    phone_share: float = 0.5  # of persons who give an e-mail, the share who also give a phone number
    extra_identified_device_prob: float = 0.85  # chance a non-primary device also sees the login / a form
    household_share: float = 0.03  # persons who also browse, anonymously, on another person's tablet
    kiosk_devices: int = 1  # shared in-store tablets on which many persons log in
    kiosk_persons: int = 200  # persons logging in on each kiosk (capped by a quarter of the account holders)
    returning_device_share: float = 0.3  # devices that visited before the window (no first_visit)

    # --- behaviour ----------------------------------------------------------------
    # Furthest stage each planned journey reaches: aware, considering, intent (abandoned cart), converted.
    depth_probs: tuple[float, float, float, float] = (0.35, 0.3, 0.15, 0.2)
    return_share: float = 0.4  # persons with a second journey (after a purchase, or after a gap > 14 days)
    competitor_loss_share: float = 0.35  # abandoned-cart journeys lost to a competitor after an exposure
    competitor_exposure_share: float = 0.1  # persons with unrelated competitor exposures
    fatigue_share: float = 0.04  # persons shown many impressions after their visits, who never click again
    fatigue_impressions: tuple[int, int] = (15, 40)
    budget_limited_campaigns: tuple[str, ...] = ("display_prospecting", "fb_prospecting")
    budget_capped_day_share: float = 0.4  # of a budget-limited campaign's days, the share that hit the budget

    # --- dirt ---------------------------------------------------------------------
    duplicate_rate: float = 0.01  # byte-identical extra copies of events
    late_rate: float = 0.01  # events written to a later day's file
    max_late_days: int = 3
    tie_rate: float = 0.01  # events sharing the microsecond of the previous event of their session
    placeholder_rate: float = 0.02  # placeholder values in user_id, source/medium/campaign and page titles
    placeholder_lead_share: float = 0.05  # anonymous persons submitting a form with a placeholder e-mail
    malformed_rate: float = 0.002  # corrupted extra rows: null/future timestamp, negative revenue, bad session id
    n_bots: int = 3  # bot devices (scaled, at least one)
    bot_events: int = 3000  # events per bot

    # --- backend --------------------------------------------------------------------
    missing_in_ga4_rate: float = 0.09  # orders the tag never sent
    missing_in_backend_rate: float = 0.08  # GA4 purchases the shop has no order for (tests, cancelled carts)
    revenue_mismatch_rate: float = 0.05  # matched orders whose backend revenue differs (shipping, discounts)
    duplicate_in_ga4_rate: float = 0.02  # matched orders whose purchase GA4 logged twice (page reload)

    def __post_init__(self) -> None:
        if self.scale <= 0:
            raise ValueError(f"scale must be positive, got {self.scale}")
        if self.days < 2:
            raise ValueError(f"days must be at least 2, got {self.days}")
        if abs(sum(self.depth_probs) - 1.0) > 1e-9:
            raise ValueError(f"depth_probs must sum to 1, got {self.depth_probs}")
        rates = {
            f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name.endswith(("_rate", "_share"))
        }
        bad = {name: value for name, value in rates.items() if not 0.0 <= value <= 1.0}
        if bad:
            raise ValueError(f"rates and shares must lie in [0, 1]: {bad}")
        if self.missing_in_ga4_rate + self.missing_in_backend_rate >= 1.0:
            raise ValueError("missing_in_ga4_rate + missing_in_backend_rate must be below 1")

    @property
    def n_persons(self) -> int:
        return max(MIN_PERSONS, round(self.persons_per_scale * self.scale))

    @property
    def n_bot_devices(self) -> int:
        return max(1, round(self.n_bots * self.scale))

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly parameters for the manifest."""
        return {
            f.name: (v.isoformat() if isinstance(v, date) else list(v) if isinstance(v, tuple) else v)
            for f in dataclasses.fields(self)
            for v in [getattr(self, f.name)]
        }
