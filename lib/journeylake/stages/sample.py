"""Stage runner: make sure the generated sample world exists before ingestion reads it.

``make run`` on a fresh clone has no input data: this stage generates the world
described by ``[input] sample_seed`` and ``sample_scale`` into ``sample_dir``,
unless a world with the same seed, scale and generator version is already
there (then it is reused as is). When ``[input] ga4_dir`` points at a real
export the stage does nothing. Generation needs no Spark session.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from journeylake.sample import GENERATOR_VERSION, SampleParams, generate_world
from journeylake.sample.writer import read_manifest
from journeylake.stages import RunContext, StageResult, timed

STAGE = "sample"
# Tables reported in the summary line, from the manifest's counts.
SUMMARY_COUNTS = ("ga4_rows", "ad_touchpoints", "competitor_exposures", "backend_orders", "backend_users")


def is_current(manifest: dict[str, Any] | None, params: SampleParams) -> bool:
    """True when ``manifest`` describes the world ``params`` would generate."""
    return (
        manifest is not None
        and manifest.get("generator_version") == GENERATOR_VERSION
        and manifest.get("seed") == params.seed
        and manifest.get("scale") == params.scale
    )


def generate(out_dir: str | Path, seed: int, scale: float, reuse: bool = True) -> StageResult:
    """Generate (or, with ``reuse``, keep a matching) world in ``out_dir``; never raises for bad input."""
    result = StageResult(stage=STAGE)
    with timed(result):
        out = Path(out_dir)
        try:
            params = SampleParams(seed=seed, scale=scale)
            manifest = read_manifest(out)
            reused = reuse and is_current(manifest, params)
            if not reused or manifest is None:
                manifest = generate_world(out, params)
        except (ValueError, OSError) as error:
            result.failed = True
            result.message = f"{type(error).__name__}: {error}"
            return result
        counts = manifest["counts"]
        result.rows_out = {name: int(counts[name]) for name in SUMMARY_COUNTS if name in counts}
        result.details = {
            "out_dir": str(out),
            "seed": seed,
            "scale": scale,
            "reused": reused,
            "date_range": manifest["date_range"],
            "dirt": manifest["dirt"],
        }
    return result


def run(context: RunContext) -> StageResult:
    """Generate the sample world into ``config.input.sample_dir`` if it is missing or stale."""
    inputs = context.config.input
    if inputs.ga4_dir:
        result = StageResult(stage=STAGE, details={"skipped": f"input.ga4_dir is set ({inputs.ga4_dir})"})
        return result
    return generate(inputs.sample_dir, inputs.sample_seed, inputs.sample_scale, reuse=True)
