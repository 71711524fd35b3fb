"""Connected components of a graph held in DataFrames.

One entry point, :func:`connected_components`. Where the GraphFrames JVM classes are
on the classpath it runs GraphFrames' ``connectedComponents``; otherwise it runs the
same family of algorithm natively on DataFrames: alternating large-star / small-star
(Kiveris et al., "Connected Components in MapReduce and Beyond", SoCC 2014), which is
what GraphFrames' ``two_phase`` algorithm implements. Both label every vertex with the
smallest vertex id of its component, so results do not depend on which one ran.

The native loop iterates over rounds only (never over rows): each round is a few
joins and aggregates, convergence is a count of edges that changed, and the edge set
is checkpointed every few rounds so the lineage (and the query plan) stays short.
"""

from __future__ import annotations

import logging

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

LOG = logging.getLogger(__name__)

# GraphFrames' "two_phase" is the large-star/small-star algorithm (the native fallback
# implements the same, so switching implementations never changes the labelling);
# "graphx" is Pregel label propagation, slower by O(diameter) supersteps.
DEFAULT_ALGORITHM = "two_phase"
# -1 turns off GraphFrames' manual broadcast of high-degree vertices and lets AQE split
# skewed joins instead; GraphFrames documents it as the faster mode. Identity graphs have
# few hubs after the degree caps, so a manual hub broadcast buys nothing.
DEFAULT_BROADCAST_THRESHOLD = -1
# Checkpoint every second round: each round adds ~6 shuffles to the plan, and cutting the
# lineage more often costs a full write of the (small) edge set for little gain.
DEFAULT_CHECKPOINT_INTERVAL = 2
# Large-star/small-star converges in O(log^2 n) rounds; 60 rounds covers any graph that
# fits in a cluster, so reaching it means a bug, not a big graph.
MAX_ROUNDS = 60

GRAPHFRAMES_CLASS = "org.graphframes.GraphFrame"
IMPL_GRAPHFRAMES = "graphframes"
IMPL_NATIVE = "native_large_small_star"

_SRC, _DST = "src", "dst"
_graphframes_available: dict[int, bool] = {}


def graphframes_jvm_available(spark: SparkSession) -> bool:
    """True when the GraphFrames JVM classes can be loaded; checked once per SparkContext."""
    context_id = id(spark.sparkContext)
    if context_id not in _graphframes_available:
        _graphframes_available[context_id] = _load_jvm_class(spark, GRAPHFRAMES_CLASS)
    return _graphframes_available[context_id]


def _load_jvm_class(spark: SparkSession, class_name: str) -> bool:
    jvm = getattr(spark.sparkContext, "_jvm", None)
    if jvm is None:  # Spark Connect: no py4j gateway, so the native implementation runs
        return False
    try:
        # spark.jars are added to the context class loader, not the system one.
        loader = jvm.java.lang.Thread.currentThread().getContextClassLoader()
        jvm.java.lang.Class.forName(class_name, False, loader)
    except Exception:  # py4j raises Py4JJavaError wrapping ClassNotFoundException
        return False
    return True


def connected_components(
    vertices: DataFrame,
    edges: DataFrame,
    *,
    algorithm: str = DEFAULT_ALGORITHM,
    broadcast_threshold: int = DEFAULT_BROADCAST_THRESHOLD,
    checkpoint_interval: int = DEFAULT_CHECKPOINT_INTERVAL,
    force_native: bool = False,
) -> DataFrame:
    """Label each vertex with the smallest vertex id in its connected component.

    Input: ``vertices`` with ``id`` (long, unique, not null); ``edges`` with ``src`` and
    ``dst`` (long), read as undirected. Every edge endpoint must be a vertex. Self-loops
    and duplicate edges are allowed and change nothing; rows with a null endpoint are ignored.
    Returns ``id`` (long), ``component`` (long): one row per vertex.
    """
    if checkpoint_interval < 1:
        raise ValueError(f"checkpoint_interval must be >= 1, got {checkpoint_interval}")
    spark = vertices.sparkSession
    if not force_native and graphframes_jvm_available(spark):
        LOG.info("connected components: GraphFrames %s (broadcastThreshold=%s)", algorithm, broadcast_threshold)
        return _graphframes_components(vertices, edges, algorithm, broadcast_threshold, checkpoint_interval)
    LOG.info("connected components: native large-star/small-star (GraphFrames JVM classes not on the classpath)")
    return _native_components(vertices, edges, checkpoint_interval)


def _graphframes_components(
    vertices: DataFrame, edges: DataFrame, algorithm: str, broadcast_threshold: int, checkpoint_interval: int
) -> DataFrame:
    from graphframes import GraphFrame  # imported here: the wrapper needs the JVM classes at construction

    graph = GraphFrame(vertices.select("id"), _clean_edges(edges))
    labelled = graph.connectedComponents(
        algorithm=algorithm, checkpointInterval=checkpoint_interval, broadcastThreshold=broadcast_threshold
    )
    # GraphFrames labels long ids with the component minimum already; recomputing it makes
    # the contract hold for every algorithm (graphx/randomized labels are arbitrary).
    minimum = labelled.groupBy("component").agg(F.min("id").alias("min_id"))
    return labelled.join(minimum, on="component", how="inner").select(F.col("id"), F.col("min_id").alias("component"))


def _clean_edges(edges: DataFrame) -> DataFrame:
    """Oriented (src < dst), no self-loops, no nulls, no duplicates: the form both steps keep."""
    src, dst = F.col(_SRC), F.col(_DST)
    return (
        edges.where(src.isNotNull() & dst.isNotNull() & (src != dst))
        .select(F.least(src, dst).alias(_SRC), F.greatest(src, dst).alias(_DST))
        .distinct()
    )


def _large_star(edges: DataFrame) -> DataFrame:
    """Each vertex u links every larger neighbour to m(u), the minimum of u and its neighbours.

    Input: distinct oriented edges ``src < dst``; output: oriented edges, possibly repeated.
    """
    both_ways = edges.select(F.col(_SRC).alias("node"), F.col(_DST).alias("nbr")).unionByName(
        edges.select(F.col(_DST).alias("node"), F.col(_SRC).alias("nbr"))
    )
    min_nbr = both_ways.groupBy("node").agg(F.min("nbr").alias("min_nbr"))
    # For an oriented edge (u, v), v is u's larger neighbour: emit (m(u), v); m(u) <= u < v.
    # Duplicates are left for the small-star step, whose output is de-duplicated anyway.
    return edges.join(min_nbr, on=edges[_SRC] == min_nbr["node"], how="inner").select(
        F.least(F.col("min_nbr"), F.col(_SRC)).alias(_SRC), F.col(_DST)
    )


def _small_star(edges: DataFrame) -> DataFrame:
    """Each vertex u links itself and its smaller neighbours to the smallest of them.

    Input: oriented edges ``src < dst`` (repeats allowed); output: distinct oriented edges.
    """
    min_smaller = edges.groupBy(_DST).agg(F.min(_SRC).alias("min_src"))
    joined = edges.join(min_smaller, on=_DST, how="inner")
    smaller_to_min = joined.where(F.col(_SRC) != F.col("min_src")).select(
        F.col("min_src").alias(_SRC), F.col(_SRC).alias(_DST)
    )
    self_to_min = min_smaller.select(F.col("min_src").alias(_SRC), F.col(_DST))
    return smaller_to_min.unionByName(self_to_min).distinct()


def _changed_edges(new: DataFrame, old: DataFrame) -> int:
    """Edges in exactly one of two distinct edge sets (0 means the round changed nothing)."""
    side = "side"
    tagged = new.select(_SRC, _DST, F.lit(1).alias(side)).unionByName(old.select(_SRC, _DST, F.lit(-1).alias(side)))
    return tagged.groupBy(_SRC, _DST).agg(F.sum(side).alias(side)).where(F.col(side) != 0).count()


def _native_components(vertices: DataFrame, edges: DataFrame, checkpoint_interval: int) -> DataFrame:
    # Every round cuts the plan: each round reads its input five times, so an uncut plan grows
    # ~6x per round and its text alone (which AQE renders) exhausts the driver after a few
    # rounds. Local checkpoints cut it cheaply; a reliable checkpoint every few rounds keeps a
    # copy that survives losing an executor.
    current = _clean_edges(edges).localCheckpoint(eager=True)
    for round_number in range(1, MAX_ROUNDS + 1):
        updated = _small_star(_large_star(current))
        if round_number % checkpoint_interval == 0:
            updated = updated.checkpoint(eager=True)
        else:
            updated = updated.localCheckpoint(eager=True)
        changed = _changed_edges(updated, current)
        current.unpersist()
        current = updated
        if changed == 0:
            LOG.info("native connected components converged after %d rounds", round_number)
            break
    else:
        raise RuntimeError(f"connected components did not converge in {MAX_ROUNDS} rounds")
    # At the fixed point every component is a star around its minimum: (min, v) for each other v.
    star_centre = current.groupBy(_DST).agg(F.min(_SRC).alias("centre"))
    labelled = vertices.select("id").join(star_centre, on=F.col("id") == F.col(_DST), how="left")
    component: Column = F.coalesce(F.col("centre"), F.col("id"))
    return labelled.select(F.col("id"), component.alias("component"))
