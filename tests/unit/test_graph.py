"""Connected components: the native large-star/small-star loop against networkx."""

from __future__ import annotations

import itertools
import random

import networkx as nx
import pytest
from pyspark.sql import SparkSession

from journeylake.graph import connected_components, graphframes_jvm_available

pytestmark = pytest.mark.unit

Edge = tuple[int, int]


def _reference(vertices: list[int], edges: list[Edge]) -> dict[int, int]:
    """networkx components, labelled by their minimum vertex id."""
    graph = nx.Graph()
    graph.add_nodes_from(vertices)
    graph.add_edges_from(edges)
    return {node: min(part) for part in nx.connected_components(graph) for node in part}


def _spark_components(spark: SparkSession, vertices: list[int], edges: list[Edge]) -> dict[int, int]:
    vertices_df = spark.createDataFrame([(v,) for v in vertices], "id long")
    edges_df = spark.createDataFrame(edges, "src long, dst long")
    rows = connected_components(vertices_df, edges_df, force_native=True).collect()
    assert len(rows) == len(vertices), "one row per vertex"
    return {row["id"]: row["component"] for row in rows}


def _random_graph(seed: int, n: int, m: int) -> tuple[list[int], list[Edge]]:
    rng = random.Random(seed)
    # Sparse, unordered ids (some negative, like xxhash64 keys) so the labelling is not the insertion order.
    ids = rng.sample(range(-(10**12), 10**12), n)
    edges = [(rng.choice(ids), rng.choice(ids)) for _ in range(m)]
    edges += [(ids[0], ids[0]), edges[0], (edges[1][1], edges[1][0])]  # self-loop, duplicate, reversed duplicate
    return ids, edges


def _chain(first: int, length: int, seed: int) -> tuple[list[int], list[Edge]]:
    """A path whose ids zig-zag: the slow case for min-label propagation."""
    order = list(range(first, first + length))
    random.Random(seed).shuffle(order)
    return order, list(itertools.pairwise(order))


def test_disjoint_union_of_random_graphs_chain_and_star_matches_networkx(spark: SparkSession) -> None:
    # One solve over a disjoint union keeps the test fast (rounds, not graphs, cost time) while every
    # part must still come out exactly as networkx labels it.
    vertices: list[int] = []
    edges: list[Edge] = []
    for seed, n, m in [(1, 40, 25), (7, 60, 55), (42, 30, 60)]:
        part_vertices, part_edges = _random_graph(seed, n, m)
        vertices += part_vertices
        edges += part_edges
    chain_vertices, chain_edges = _chain(10**13, 30, seed=3)
    star_vertices = list(range(2 * 10**13, 2 * 10**13 + 11))
    star_edges = [(star_vertices[5], leaf) for leaf in star_vertices if leaf != star_vertices[5]]  # centre not min
    loop_only = [3 * 10**13]
    vertices += chain_vertices + star_vertices + loop_only
    edges += [*chain_edges, *star_edges, (loop_only[0], loop_only[0])]
    assert len(set(vertices)) == len(vertices), "parts must be disjoint"

    expected = _reference(vertices, edges)
    result = _spark_components(spark, vertices, edges)

    assert result == expected
    assert len(set(expected.values())) > 10, "the case must have many components, isolated vertices included"
    assert {result[v] for v in chain_vertices} == {10**13}
    assert {result[v] for v in star_vertices} == {star_vertices[0]}
    assert result[loop_only[0]] == loop_only[0]


def test_no_edges_labels_every_vertex_by_itself(spark: SparkSession) -> None:
    assert _spark_components(spark, [3, 1, 2], []) == {1: 1, 2: 2, 3: 3}


def test_graphframes_detection_matches_the_classpath(spark: SparkSession) -> None:
    # The GraphFrames jar is not attached here; detection must say so rather than fail at call time.
    jars = spark.sparkContext.getConf().get("spark.jars", "") or ""
    assert graphframes_jvm_available(spark) == ("graphframes" in jars.lower())


def test_invalid_checkpoint_interval_is_rejected(spark: SparkSession) -> None:
    vertices = spark.createDataFrame([(1,)], "id long")
    with pytest.raises(ValueError, match="checkpoint_interval"):
        connected_components(vertices, spark.createDataFrame([], "src long, dst long"), checkpoint_interval=0)
