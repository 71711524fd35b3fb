"""The Databricks bundle and the Dataproc workflow template point at jobs that exist, in pipeline order."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from journeylake.stages.pipeline import STAGES

pytestmark = pytest.mark.unit

PROJECT = Path(__file__).resolve().parents[2]
BUNDLE = PROJECT / "databricks.yml"
WORKFLOW = PROJECT / "deploy" / "dataproc" / "workflow.yaml"
# The pipeline's stage names and the job that runs each one alone (sample and backend run inside others).
STAGE_JOBS = {
    "ingest": "jobs/ingest.py",
    "identity": "jobs/resolve_identity.py",
    "journeys": "jobs/build_journeys.py",
    "abandonment": "jobs/detect_abandonment.py",
    "attribution": "jobs/attribute.py",
    "rl": "jobs/export_rl.py",
    "reconcile": "jobs/reconcile.py",
    "validate": "jobs/validate.py",
}


def _load(path: Path) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text())
    assert isinstance(document, dict), path
    return document


def _order(tasks: dict[str, list[str]]) -> list[str]:
    """Tasks in dependency order (raises on a cycle or an unknown dependency)."""
    done: list[str] = []
    while len(done) < len(tasks):
        ready = [t for t, deps in tasks.items() if t not in done and all(d in done for d in deps)]
        assert ready, f"cycle or unknown dependency among {sorted(set(tasks) - set(done))}"
        done.extend(sorted(ready))
    return done


def _assert_pipeline_order(order: list[str]) -> None:
    stages = [name for name, _ in STAGES if name in STAGE_JOBS]
    assert [t for t in order if t in STAGE_JOBS] == stages


def test_bundle_tasks_run_existing_jobs_with_the_wheel() -> None:
    bundle = _load(BUNDLE)
    assert bundle["bundle"]["name"] == "journeylake"
    assert bundle["artifacts"]["journeylake"]["type"] == "whl"
    jobs = bundle["resources"]["jobs"]
    python_files = []
    for job in jobs.values():
        for task in job["tasks"]:
            assert {"whl": "./dist/*.whl"} in task["libraries"], task["task_key"]
            if "spark_python_task" in task:
                python_files.append(task["spark_python_task"]["python_file"])
                assert "--lake" in task["spark_python_task"]["parameters"]
            else:
                assert (PROJECT / task["notebook_task"]["notebook_path"]).is_file()
            used = {v.split(".")[1].split("}")[0] for v in str(task).split("${")[1:] if v.startswith("var.")}
            assert used <= set(bundle["variables"]), f"{task['task_key']} uses undeclared {used}"
    for python_file in python_files:
        assert (PROJECT / python_file).is_file(), python_file
    assert "./jobs/run_pipeline.py" in python_files and "./jobs/report.py" in python_files

    stages = {t["task_key"]: t for t in jobs["journeylake_stages"]["tasks"]}
    for stage, job_file in STAGE_JOBS.items():
        assert stages[stage]["spark_python_task"]["python_file"] == f"./{job_file}"
    _assert_pipeline_order(_order({k: [d["task_key"] for d in t.get("depends_on", [])] for k, t in stages.items()}))


def test_dataproc_workflow_steps_run_existing_jobs_in_pipeline_order() -> None:
    workflow = _load(WORKFLOW)
    steps = {job["stepId"]: job for job in workflow["jobs"]}
    prefix = "gs://BUCKET/journeylake/"
    for step_id, step in steps.items():
        job = step["pysparkJob"]
        assert job["mainPythonFileUri"].startswith(prefix), step_id
        assert (PROJECT / job["mainPythonFileUri"].removeprefix(prefix)).is_file(), step_id
        assert job["pythonFileUris"] == [f"{prefix}journeylake.zip"], step_id
        assert "delta-spark_4.1_2.13" in job["properties"]["spark.jars.packages"], step_id
        assert job["args"][0] == "--lake", step_id
    for stage, job_file in STAGE_JOBS.items():
        assert steps[stage]["pysparkJob"]["mainPythonFileUri"] == prefix + job_file
    _assert_pipeline_order(_order({k: s.get("prerequisiteStepIds", []) for k, s in steps.items()}))
    lake = next(p for p in workflow["parameters"] if p["name"] == "LAKE")
    assert len(lake["fields"]) == len(steps)  # one --lake value for every step
