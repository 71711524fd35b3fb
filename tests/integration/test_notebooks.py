"""The Jupyter notebook runs headless on a tiny generated sample and shows the results, so it cannot rot.

The test injects a cell after the notebook's parameters cell (as papermill does) pointing it at a temporary
lake, sample and report folder, executes every cell in a real kernel with nbclient, and checks the outputs
against the lake the notebook wrote.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from pyspark.sql import SparkSession

from journeylake.io.delta import read_table, table_path

pytestmark = pytest.mark.integration

PROJECT = Path(__file__).resolve().parents[2]
NOTEBOOK = PROJECT / "notebooks" / "journeylake_dataproc.ipynb"
AS_OF = "2024-02-01T00:00:00"
NOTEBOOK_TIMEOUT_SECONDS = 3600  # per cell; the pipeline cell takes 3-25 minutes on 2 busy cores


def _inject_parameters(notebook: nbformat.NotebookNode, values: dict[str, object]) -> None:
    """Insert an assignment cell right after the cell tagged "parameters" (the papermill convention)."""
    position = next(i for i, c in enumerate(notebook.cells) if "parameters" in c.metadata.get("tags", []))
    source = "\n".join(f"{name} = {value!r}" for name, value in values.items())
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]})
    notebook.cells.insert(position + 1, cell)


def _outputs_text(cell: nbformat.NotebookNode) -> str:
    parts = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream":
            parts.append(output.get("text", ""))
        for mime in ("text/html", "text/plain"):
            parts.append(str(output.get("data", {}).get(mime, "")))
    return "\n".join(parts)


def test_dataproc_notebook_runs_the_pipeline_and_shows_the_results(
    spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake, report_dir = tmp_path / "lake", tmp_path / "report"
    config = tmp_path / "tiny.toml"
    config.write_text(
        f'[input]\nsample_dir = "{tmp_path / "sample"}"\nsample_scale = 0.05\n'
        # Expectations have their own tests; the notebook's job is running and showing.
        "[validation]\nenabled = false\n"
        '[spark]\nshuffle_partitions = 2\ndriver_memory = "1500m"\n'
    )
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    code_cells = len([c for c in notebook.cells if c.cell_type == "code"])
    _inject_parameters(
        notebook, {"LAKE": str(lake), "CONFIG": str(config), "AS_OF": AS_OF, "REPORT_DIR": str(report_dir)}
    )
    # The kernel inherits the environment: two local cores, no progress bar in captured output.
    monkeypatch.setenv("JOURNEYLAKE_SPARK_MASTER", "local[2]")
    monkeypatch.setenv("JOURNEYLAKE_PROGRESS", "0")

    client = NotebookClient(
        notebook,
        timeout=NOTEBOOK_TIMEOUT_SECONDS,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()  # raises CellExecutionError, with the cell and its traceback, when a cell fails

    executed = [c for c in notebook.cells if c.cell_type == "code"]
    assert len(executed) == code_cells + 1
    assert all(c.get("execution_count") for c in executed), "every cell ran"
    assert not [o for c in executed for o in c.get("outputs", []) if o.get("output_type") == "error"]

    # The pipeline's structured stage summaries were shown, one per stage.
    pipeline_cell = next(c for c in executed if "run_pipeline(context)" in c.source)
    summaries = [line for line in _outputs_text(pipeline_cell).splitlines() if "event=stage_summary" in line]
    assert [line.split(" stage=")[1].split(" ")[0] for line in summaries][:3] == ["sample", "ingest", "backend"]
    assert all(" status=ok " in line for line in summaries)

    # The run report was written and shown inline with its charts.
    report_cell = next(c for c in executed if "write_report(context)" in c.source)
    shown = _outputs_text(report_cell)
    assert str(report_dir / "index.html") in shown
    assert shown.count("<svg") >= 7
    summary = json.loads((report_dir / "summary.json").read_text())

    # The funnel shown equals the lake's journeys.
    journeys = read_table(spark, table_path(lake, "gold", "user_journeys"))
    total = journeys.count()
    funnel = summary["sections"]["funnel"]["totals"]
    assert total > 0
    assert funnel["reached"]["UNAWARE"] + funnel["unknown_state"] == total
    converted = journeys.where("current_state = 'CONVERTED'").count()
    assert funnel["reached"]["CONVERTED"] == converted
    funnel_cell = next(c for c in executed if 'frames["funnel"]' in c.source)
    assert "CONVERTED" in _outputs_text(funnel_cell)

    # Attribution by model, abandonment reasons and identity health were shown as tables.
    attribution_cell = next(c for c in executed if 'frames["attribution"]' in c.source)
    assert "linear" in _outputs_text(attribution_cell) and "markov" in _outputs_text(attribution_cell)
    for key in ("abandonment", "identity"):
        cell = next(c for c in executed if f'frames["{key}"]' in c.source)
        assert "<table" in _outputs_text(cell), key
    assert summary["sections"]["run"]["totals"]["status"] == "ok"
