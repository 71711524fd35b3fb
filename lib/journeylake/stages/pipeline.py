"""The end-to-end pipeline: every stage runner in order."""

from __future__ import annotations

from journeylake.stages import RunContext, StageResult, StageRunner

# Ordered; each later stage reads what the earlier ones wrote.
STAGES: list[tuple[str, StageRunner]] = []


def run_pipeline(context: RunContext, stop_on_failure: bool = True) -> list[StageResult]:
    results: list[StageResult] = []
    for name, runner in STAGES:
        result = runner(context)
        result.stage = name
        results.append(result)
        print(result.summary_line(), flush=True)
        if result.failed and stop_on_failure:
            break
    return results
