"""Exact absorbing-chain removal effects and simplified Shapley, checked against hand computations."""

from __future__ import annotations

import itertools
import math
import random

import pytest

from journeylake.markov import (
    CONVERSION,
    NULL,
    OTHER_CHANNELS,
    START,
    channel_buckets,
    normalized_totals,
    path_states,
    removal_effects,
    shapley_values,
    transitions_from_paths,
)

pytestmark = pytest.mark.unit


def test_path_states_are_the_last_k_channels() -> None:
    assert path_states(["a", "b", "c"], 1) == [("a",), ("b",), ("c",)]
    assert path_states(["a", "b", "c"], 2) == [("a",), ("a", "b"), ("b", "c")]
    with pytest.raises(ValueError, match="order"):
        path_states(["a"], 0)


def test_transitions_weight_inner_steps_by_all_journeys_and_ends_by_outcome() -> None:
    transitions = transitions_from_paths([(["a", "b"], 2.0, 1.0), ([], 5.0, 0.0), (["a"], 0.0, 0.0)], order=1)
    assert transitions == {
        (START, ("a",)): 3.0,
        (("a",), ("b",)): 3.0,
        (("b",), CONVERSION): 2.0,
        (("b",), NULL): 1.0,
    }


def test_removal_effects_by_hand() -> None:
    # paths: a>b (1 conv), a (1 null), b (1 conv, 1 null)
    # P(start->a)=P(start->b)=1/2; P(a->b)=P(a->null)=1/2; P(b->conv)=2/3, P(b->null)=1/3
    # P(conv) = 1/2 * 1/2 * 2/3 + 1/2 * 2/3 = 1/6 + 1/3 = 1/2
    # remove a: 1/2 * 2/3 = 1/3 -> RE_a = 1 - (1/3)/(1/2) = 1/3;  remove b: 0 -> RE_b = 1
    result = removal_effects(transitions_from_paths([(["a", "b"], 1, 0), (["a"], 0, 1), (["b"], 1, 1)], 1))
    assert result.conversion_probability == pytest.approx(0.5, abs=1e-12)
    assert result.removal_effects == pytest.approx({"a": 1 / 3, "b": 1.0}, abs=1e-12)
    assert result.states == 3


def test_cycle_is_solved_exactly() -> None:
    # paths: alpha>beta>alpha (1 conv), beta (1 null)
    # alpha: ->beta 1/2, ->conv 1/2;  beta: ->alpha 1/2, ->null 1/2;  start: 1/2 each
    # x_a = x_b/2 + 1/2, x_b = x_a/2  =>  x_a = 2/3, x_b = 1/3;  P = (2/3 + 1/3)/2 = 1/2
    # remove alpha: beta only leaks -> P = 0 -> RE = 1
    # remove beta: x_a = 1/2 -> P = 1/4 -> RE = 1 - (1/4)/(1/2) = 1/2
    result = removal_effects(transitions_from_paths([(["alpha", "beta", "alpha"], 1, 0), (["beta"], 0, 1)], 1))
    assert result.conversion_probability == pytest.approx(0.5, abs=1e-12)
    assert result.removal_effects == pytest.approx({"alpha": 1.0, "beta": 0.5}, abs=1e-12)


def test_second_order_states_remove_every_tuple_with_the_channel() -> None:
    # order 2: alpha>beta>alpha is (alpha) -> (alpha,beta) -> (beta,alpha) -> conv; beta is (beta) -> null
    # no cycle: P = 1/2; removing either channel cuts the only converting path -> both RE = 1
    result = removal_effects(transitions_from_paths([(["alpha", "beta", "alpha"], 1, 0), (["beta"], 0, 1)], 2))
    assert result.conversion_probability == pytest.approx(0.5, abs=1e-12)
    assert result.removal_effects == pytest.approx({"alpha": 1.0, "beta": 1.0}, abs=1e-12)
    assert result.states == 5


def test_self_loop_does_not_change_first_order_absorption() -> None:
    # a>a>a converting and a>b null: repeats only delay absorption
    with_loops = removal_effects(transitions_from_paths([(["a", "a", "a"], 1, 0), (["a", "b"], 0, 1)], 1))
    without = removal_effects(transitions_from_paths([(["a"], 1, 0), (["a", "b"], 0, 1)], 1))
    assert with_loops.conversion_probability == pytest.approx(without.conversion_probability, abs=1e-12)
    assert with_loops.removal_effects == pytest.approx(without.removal_effects, abs=1e-12)


def test_no_conversion_gives_zero_effects_and_empty_input_is_fine() -> None:
    assert removal_effects(transitions_from_paths([(["a"], 0, 3)], 1)).removal_effects == {"a": 0.0}
    empty = removal_effects({})
    assert (empty.conversion_probability, empty.removal_effects) == (0.0, {})


def test_negative_counts_are_rejected() -> None:
    with pytest.raises(ValueError, match="negative"):
        removal_effects({(START, ("a",)): -1.0, (("a",), CONVERSION): 1.0})


def _iterated_conversion_probability(transitions: dict, removed: str | None) -> float:
    """Reference by fixed-point iteration x <- Q x + r (independent of the linear solve)."""
    out: dict = {}
    for (source, target), count in transitions.items():
        out.setdefault(source, {})[target] = out.setdefault(source, {}).get(target, 0.0) + count
    x = dict.fromkeys(out, 0.0)
    for _ in range(2000):
        x = {
            source: sum(
                count
                / sum(targets.values())
                * (1.0 if target == CONVERSION else 0.0 if target == NULL or removed in target else x[target])
                for target, count in targets.items()
            )
            for source, targets in out.items()
        }
    return x[START]


def test_exact_solution_equals_fixed_point_iteration_on_random_paths_with_cycles() -> None:
    rng = random.Random(7)
    channels = ["a", "b", "c", "d"]
    paths = []
    for _ in range(40):
        path = [rng.choice(channels) for _ in range(rng.randint(1, 5))]
        paths.append((path, float(rng.randint(0, 3)), float(rng.randint(0, 3))))
    transitions = transitions_from_paths(paths, 1)
    result = removal_effects(transitions)
    base = _iterated_conversion_probability(transitions, None)
    assert result.conversion_probability == pytest.approx(base, abs=1e-10)
    for channel in channels:
        expected = 1 - _iterated_conversion_probability(transitions, channel) / base
        assert result.removal_effects[channel] == pytest.approx(expected, abs=1e-9)
        assert 0.0 <= result.removal_effects[channel] <= 1.0


def test_normalized_totals_follow_channelattribution_convention() -> None:
    assert normalized_totals({"a": 1 / 3, "b": 1.0}, 2.0) == pytest.approx({"a": 0.5, "b": 1.5})
    assert normalized_totals({"a": 0.0}, 2.0) == {"a": 0.0}


def _brute_force_shapley(conversions_by_set: dict[frozenset[str], float]) -> dict[str, float]:
    """Shapley by enumerating coalitions, v(S) = conversions of sets that are subsets of S."""
    players = sorted(set().union(*conversions_by_set))
    n = len(players)

    def value(coalition: frozenset[str]) -> float:
        return sum(count for channel_set, count in conversions_by_set.items() if channel_set <= coalition)

    result = {}
    for player in players:
        others = [p for p in players if p != player]
        total = 0.0
        for size in range(n):
            for coalition in itertools.combinations(others, size):
                s = frozenset(coalition)
                weight = math.factorial(size) * math.factorial(n - size - 1) / math.factorial(n)
                total += weight * (value(s | {player}) - value(s))
        result[player] = total
    return result


def test_simplified_shapley_by_hand_and_equal_to_brute_force() -> None:
    # {a}: 3, {a,b}: 2, {b,c}: 4  ->  a = 3 + 2/2 = 4;  b = 2/2 + 4/2 = 3;  c = 4/2 = 2
    sets = {frozenset({"a"}): 3.0, frozenset({"a", "b"}): 2.0, frozenset({"b", "c"}): 4.0}
    assert shapley_values(sets) == pytest.approx({"a": 4.0, "b": 3.0, "c": 2.0})
    rng = random.Random(11)
    channels = ["a", "b", "c", "d", "e"]
    random_sets = {frozenset(rng.sample(channels, rng.randint(1, 4))): float(rng.randint(1, 9)) for _ in range(12)}
    simplified = shapley_values(random_sets)
    assert simplified == pytest.approx(_brute_force_shapley(random_sets), abs=1e-9)
    assert sum(simplified.values()) == pytest.approx(sum(random_sets.values()))


def test_channel_buckets_keep_the_most_frequent_and_break_ties_by_name() -> None:
    counts = {"a": 5.0, "b": 3.0, "c": 3.0, "d": 1.0}
    assert channel_buckets(counts, 4) == {"a": "a", "b": "b", "c": "c", "d": "d"}
    assert channel_buckets(counts, 3) == {"a": "a", "b": "b", "c": OTHER_CHANNELS, "d": OTHER_CHANNELS}
    with pytest.raises(ValueError, match="shapley_max_channels"):
        channel_buckets(counts, 1)


def test_shapley_values_are_bit_identical_whatever_order_the_sets_arrive_in() -> None:
    # Shares like 1/3 and 1/7 make float sums order-dependent; a cluster returns partitions in any order.
    rng = random.Random(7)
    channels = [f"ch{i}" for i in range(7)]
    sets = {frozenset(rng.sample(channels, rng.randint(1, 7))) for _ in range(60)}
    items = [(channel_set, float(rng.randint(1, 50))) for channel_set in sorted(sets, key=sorted)]
    reference = shapley_values(dict(items))
    for _ in range(20):
        rng.shuffle(items)
        assert shapley_values(dict(items)) == reference  # exact equality, not approx
