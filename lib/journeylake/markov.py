"""Driver-side attribution math on small aggregates: exact Markov removal effects, Shapley, aggregated paths.

Everything here runs on the driver with numpy, by design: its inputs are small and
bounded aggregates, never event-level data. The Spark side
(:mod:`journeylake.attribution`) aggregates transition counts (bounded by states
squared) and conversions per distinct channel set (bounded by 2^shapley_max_channels),
collects only those, and hands the resulting per-channel weights back to Spark.
The aggregated-paths attribution behind ``jobs/attribute_paths.py`` also lives here
because an analyst's path file is a small aggregate too; it never starts Spark.

Markov chain (order k): the states are ``START``, the tuples of the last (up to) k
channels of a path, ``CONVERSION`` and ``NULL`` (absorbing). The conversion probability
from ``START`` is solved exactly with ``numpy.linalg.solve`` on ``(I - Q) x = r``
(Q: transient-to-transient probabilities, r: transient-to-conversion probabilities),
which handles cycles exactly, with no simulation and no path enumeration. Removing a
channel removes every state that contains it: transitions into those states go to
``NULL``. Removal effect of c = 1 - P(conversion | c removed) / P(conversion).

Shapley: the simplified formula of Zhao, Mahboobi and Bagheri (2018) for the
characteristic function v(S) = conversions of paths whose channel set is a subset of S:
phi_c = sum over channel sets T containing c of R(T) / |T|, where R(T) is the number of
conversions whose distinct channel set is exactly T. The values sum to all conversions.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

START = "(start)"
CONVERSION = "(conversion)"
NULL = "(null)"

# A state is a tuple of channel names; the sentinels are plain strings, so a channel
# literally named "(start)" can never collide with them.
State = tuple[str, ...]
Node = State | str
Transitions = Mapping[tuple[Node, Node], float]

# Dense solves are cubic in the number of states: refuse sizes that would not fit on a
# driver (a 3000-state matrix is 72 MB and a few seconds per removal).
MAX_MARKOV_STATES = 3000
# Removal effects within this distance of 0 are floating noise (removal can only lower
# the conversion probability), and are clipped to 0.
REMOVAL_EFFECT_TOLERANCE = 1e-12
OTHER_CHANNELS = "(other channels)"

PATH_OUTPUT_COLUMNS = (
    "channel_name",
    "first_touch_conversions",
    "first_touch_value",
    "last_touch_conversions",
    "last_touch_value",
    "linear_touch_conversions",
    "linear_touch_value",
    "markov_conversions",
    "markov_value",
    "removal_effect",
)


@dataclass(frozen=True)
class MarkovResult:
    conversion_probability: float  # P(conversion) from START with every channel present
    removal_effects: dict[str, float]  # channel -> removal effect in [0, 1]
    states: int  # transient states, START included


def path_states(channels: Sequence[str], order: int) -> list[State]:
    """The state after each touch: the tuple of the last ``min(i, order)`` channels.

    Paths shorter than the order start with shorter tuples, so no padding symbol is needed.
    """
    if order < 1:
        raise ValueError(f"Markov order must be >= 1, got {order}")
    return [tuple(channels[max(0, i + 1 - order) : i + 1]) for i in range(len(channels))]


def transitions_from_paths(
    paths: Iterable[tuple[Sequence[str], float, float]], order: int
) -> dict[tuple[Node, Node], float]:
    """Transition counts of paths given as (channels, conversions, nulls).

    Every transition of a path is weighted by the journeys that followed it
    (conversions + nulls); the last state goes to CONVERSION and NULL with their counts.
    Empty paths carry no channel and are skipped.
    """
    counts: dict[tuple[Node, Node], float] = defaultdict(float)
    for channels, conversions, nulls in paths:
        journeys = conversions + nulls
        if not channels or journeys <= 0:
            continue
        states = path_states(channels, order)
        previous: Node = START
        for state in states:
            counts[(previous, state)] += journeys
            previous = state
        if conversions > 0:
            counts[(previous, CONVERSION)] += conversions
        if nulls > 0:
            counts[(previous, NULL)] += nulls
    return dict(counts)


def removal_effects(transitions: Transitions) -> MarkovResult:
    """Exact conversion probability and per-channel removal effects of an absorbing chain.

    ``transitions`` maps (from, to) to a count; from is START or a state tuple, to is a
    state tuple, CONVERSION or NULL. Counts are normalised per source state.
    """
    transient: list[State | str] = [START]
    seen: set[Node] = {START}
    for source, target in sorted(transitions, key=_node_sort_key):
        for node in (source, target):
            if node not in seen and node not in (CONVERSION, NULL):
                if isinstance(node, str):
                    raise ValueError(f"unknown Markov node {node!r}")
                seen.add(node)
                transient.append(node)
    if len(transient) > MAX_MARKOV_STATES:
        raise ValueError(
            f"{len(transient)} Markov states exceed the limit {MAX_MARKOV_STATES}: lower attribution.markov_order"
        )
    index = {node: i for i, node in enumerate(transient)}
    size = len(transient)
    counts = np.zeros((size, size))
    to_conversion = np.zeros(size)
    out_total = np.zeros(size)
    for (source, target), count in transitions.items():
        if count < 0:
            raise ValueError(f"negative transition count {count} for {source!r} -> {target!r}")
        if source in (CONVERSION, NULL):
            raise ValueError(f"transition out of absorbing state {source!r}")
        row = index[source]
        out_total[row] += count
        if target == CONVERSION:
            to_conversion[row] += count
        elif target != NULL:
            counts[row, index[target]] += count
    # A state without outgoing transitions (only possible with hand-made input) leaks to NULL.
    divisor = np.where(out_total > 0, out_total, 1.0)
    q = counts / divisor[:, None]
    r = to_conversion / divisor

    base = _conversion_probability(q, r, np.ones(size, dtype=bool))
    channels = sorted({c for node in transient if isinstance(node, tuple) for c in node})
    effects: dict[str, float] = {}
    for channel in channels:
        keep = np.array([not (isinstance(node, tuple) and channel in node) for node in transient])
        removed = _conversion_probability(q, r, keep)
        effect = 1.0 - removed / base if base > 0 else 0.0
        effects[channel] = 0.0 if abs(effect) < REMOVAL_EFFECT_TOLERANCE else effect
    return MarkovResult(conversion_probability=base, removal_effects=effects, states=size)


def _conversion_probability(q: np.ndarray, r: np.ndarray, keep: np.ndarray) -> float:
    """P(conversion) from START (index 0) when only ``keep`` states exist.

    Dropping the removed states' rows and columns is exactly redirecting every
    transition into them to NULL: that probability mass simply leaves the system.
    """
    kept = np.flatnonzero(keep)
    system = np.eye(len(kept)) - q[np.ix_(kept, kept)]
    solution = np.linalg.solve(system, r[kept])
    return float(solution[0])


def _node_sort_key(edge: tuple[Node, Node]) -> tuple[str, str]:
    # Deterministic state numbering whatever the input order.
    return (repr(edge[0]), repr(edge[1]))


def normalized_totals(weights: Mapping[str, float], total: float) -> dict[str, float]:
    """``total * w_c / sum(w)``: the ChannelAttribution convention for Markov channel totals."""
    weight_sum = sum(weights.values())
    if weight_sum <= 0:
        return {channel: 0.0 for channel in weights}
    return {channel: total * weight / weight_sum for channel, weight in weights.items()}


def shapley_values(conversions_by_set: Mapping[frozenset[str], float]) -> dict[str, float]:
    """Simplified Shapley (Zhao et al. 2018): phi_c = sum over sets T containing c of R(T) / |T|."""
    values: dict[str, float] = defaultdict(float)
    # Fixed summation order: float addition is not associative, and the sets arrive in whatever order the
    # cluster's partitions returned them, so an unordered sum differs in the last bits between runs.
    for channel_set, conversions in sorted(conversions_by_set.items(), key=lambda item: sorted(item[0])):
        if not channel_set:
            continue
        share = conversions / len(channel_set)
        for channel in channel_set:
            values[channel] += share
    return dict(sorted(values.items()))


def channel_buckets(touches_by_channel: Mapping[str, float], max_channels: int) -> dict[str, str]:
    """Map each channel to itself, or to OTHER_CHANNELS when it is not among the most frequent.

    With more than ``max_channels`` channels, the ``max_channels - 1`` most frequent keep
    their name (ties by name) and the rest share one bucket, so at most 2^max_channels
    channel sets exist.
    """
    if max_channels < 2:
        raise ValueError(f"shapley_max_channels must be >= 2, got {max_channels}")
    if len(touches_by_channel) <= max_channels:
        return {channel: channel for channel in touches_by_channel}
    ranked = sorted(touches_by_channel, key=lambda c: (-touches_by_channel[c], c))
    kept = set(ranked[: max_channels - 1])
    return {channel: channel if channel in kept else OTHER_CHANNELS for channel in touches_by_channel}


# ---- aggregated paths (jobs/attribute_paths.py) -------------------------------------------------


@dataclass(frozen=True)
class PathRecord:
    channels: tuple[str, ...]
    conversions: float
    value: float
    nulls: float


def split_path(path: str, path_sep: str) -> tuple[str, ...]:
    """Channels of ``path``, split on the separator surrounded by single spaces.

    Names are kept exactly as written, so ``<Other>`` or ``a>b`` survive with ``>``.
    """
    text = path.strip()
    if not text:
        raise ValueError("empty path")
    channels = tuple(text.split(f" {path_sep} "))
    if any(not channel.strip() for channel in channels):
        raise ValueError(f"path {path!r} has an empty channel name")
    return channels


def attribute_paths(records: Sequence[PathRecord], order: int = 1) -> list[dict[str, float | str]]:
    """First, last, linear and exact Markov attribution of aggregated paths, one dict per channel.

    Definitions follow ChannelAttribution: first/last touch give a path's conversions and
    value to its first/last channel; linear splits them equally over the path's touches,
    repeats included; Markov totals are total conversions (value) times the channel's
    removal effect over the sum of removal effects. Channels are sorted by name; every
    channel seen in any path is reported, with zeros where it earned nothing.
    """
    first: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    last: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    linear: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    channels_seen: set[str] = set()
    for record in records:
        if record.conversions < 0 or record.value < 0 or record.nulls < 0:
            raise ValueError(f"negative counts on path {' > '.join(record.channels)!r}")
        channels_seen.update(record.channels)
        first[record.channels[0]][0] += record.conversions
        first[record.channels[0]][1] += record.value
        last[record.channels[-1]][0] += record.conversions
        last[record.channels[-1]][1] += record.value
        per_touch = 1.0 / len(record.channels)
        for channel in record.channels:
            linear[channel][0] += record.conversions * per_touch
            linear[channel][1] += record.value * per_touch

    markov = removal_effects(
        transitions_from_paths(((r.channels, r.conversions, r.nulls) for r in records), order)
    ).removal_effects
    total_conversions = sum(r.conversions for r in records)
    total_value = sum(r.value for r in records)
    markov_conversions = normalized_totals(markov, total_conversions)
    markov_value = normalized_totals(markov, total_value)

    rows: list[dict[str, float | str]] = []
    for channel in sorted(channels_seen):
        rows.append(
            {
                "channel_name": channel,
                "first_touch_conversions": first[channel][0],
                "first_touch_value": first[channel][1],
                "last_touch_conversions": last[channel][0],
                "last_touch_value": last[channel][1],
                "linear_touch_conversions": linear[channel][0],
                "linear_touch_value": linear[channel][1],
                "markov_conversions": markov_conversions.get(channel, 0.0),
                "markov_value": markov_value.get(channel, 0.0),
                "removal_effect": markov.get(channel, 0.0),
            }
        )
    return rows
