"""A seeded generator of a realistic marketing world with known ground truth.

``generate_world(out_dir, SampleParams(seed=42, scale=1.0))`` writes GA4 export
files, ad touchpoints, daily cost, competitor exposures, backend tables (Parquet
and CSV), the ground truth and a manifest under ``out_dir`` (layout in
``journeylake.sample.generate``). The pipeline never reads ``truth/``; tests
and benchmarks score against it.
"""

from journeylake.sample.generate import GENERATOR_VERSION, build_world_tables, generate_world
from journeylake.sample.params import SampleParams

__all__ = ["GENERATOR_VERSION", "SampleParams", "build_world_tables", "generate_world"]
