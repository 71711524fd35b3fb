"""Production dirt on top of the clean event log: duplicates, late arrivals, malformed rows.

The clean log is never altered; dirt is added as extra rows (exact duplicates,
corrupted copies) or as a different destination file (late rows), so the
ground truth stays simple: a row is either a clean event or an extra copy of
one. Counts are exact: ``round(rate * clean rows)``. Ties and placeholders are
decided earlier, with the events themselves (``events``, ``timeline``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from journeylake.sample.events import PURCHASE
from journeylake.sample.params import SampleParams
from journeylake.sample.timeline import EventRows

MICROS_PER_DAY = 86_400_000_000
NOT_MALFORMED, NULL_TIMESTAMP, FUTURE_TIMESTAMP, NEGATIVE_REVENUE, BAD_SESSION_ID = 0, 1, 2, 3, 4
MALFORMED_KINDS = ("", "null_timestamp", "future_timestamp", "negative_revenue", "unparseable_session_id")
# Future timestamps land in 2099: beyond any as-of a run could use.
FUTURE_TIMESTAMP_MICROS = 4_070_908_800_000_000
# Corrupted copies get their own bundle sequence numbers so that (device, time, name, sequence) still
# identifies every non-duplicate row.
MALFORMED_SEQ_OFFSET = 1 << 40


@dataclass(frozen=True)
class RowPlan:
    """Every row written to the GA4 files, as a reference to the clean event it derives from."""

    src: np.ndarray  # index into EventRows
    malformed: np.ndarray  # NOT_MALFORMED or a kind
    is_duplicate: np.ndarray  # an exact extra copy of the row before it
    is_late: np.ndarray
    event_day: np.ndarray  # day index (0 = window start) of the event's own time
    file_day: np.ndarray  # day index of the file it is written to

    def __len__(self) -> int:
        return len(self.src)

    def take(self, index: np.ndarray) -> RowPlan:
        return RowPlan(**{name: getattr(self, name)[index] for name in self.__dataclass_fields__})


def plan_rows(rows: EventRows, window_start: int, params: SampleParams, rng: np.random.Generator) -> RowPlan:
    """Clean rows, plus corrupted copies and exact duplicates; some rows moved to later files."""
    n = len(rows)
    last_day = params.days - 1
    event_day = (rows.ts - window_start) // MICROS_PER_DAY

    n_malformed = round(params.malformed_rate * n)
    kinds = np.resize(np.arange(1, len(MALFORMED_KINDS)), n_malformed)
    purchases = np.flatnonzero(rows.name == PURCHASE)
    malformed_src = rng.integers(0, n, n_malformed)
    wants_purchase = (kinds == NEGATIVE_REVENUE) & (len(purchases) > 0)
    if len(purchases):
        malformed_src[wants_purchase] = purchases[rng.integers(0, len(purchases), int(wants_purchase.sum()))]

    src = np.concatenate([np.arange(n), malformed_src])
    malformed = np.concatenate([np.zeros(n, np.int64), kinds])
    day = event_day[src]

    late = np.zeros(len(src), bool)
    candidates = np.flatnonzero((malformed == NOT_MALFORMED) & (day < last_day))
    n_late = min(round(params.late_rate * n), len(candidates))
    late_rows = rng.choice(candidates, size=n_late, replace=False) if n_late else candidates[:0]
    late[late_rows] = True
    lag = rng.integers(1, params.max_late_days + 1, len(src))
    file_day = np.where(late, np.minimum(day + lag, last_day), day)

    n_duplicates = round(params.duplicate_rate * n)
    dup_of = np.sort(rng.choice(n, size=min(n_duplicates, n), replace=False)) if n_duplicates else np.zeros(0, int)
    return RowPlan(
        src=np.concatenate([src, src[dup_of]]),
        malformed=np.concatenate([malformed, malformed[dup_of]]),
        is_duplicate=np.concatenate([np.zeros(len(src), bool), np.ones(len(dup_of), bool)]),
        is_late=np.concatenate([late, late[dup_of]]),
        event_day=np.concatenate([day, day[dup_of]]),
        file_day=np.concatenate([file_day, file_day[dup_of]]),
    )
