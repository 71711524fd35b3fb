"""The only place the generator writes files: Parquet, CSV and the manifest, byte-for-byte reproducible.

The generator is a tool, not a transformation, so it writes with pyarrow here
instead of through ``journeylake.io``. A world is written into a temporary
sibling folder and moved into place when complete, so a killed run never leaves
a half-written world behind a valid manifest. An existing output folder is only
replaced when it is empty or holds a generated world (it has a manifest).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeAlias

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

MANIFEST = "manifest.json"
# A table, or a function building it when it is written (large tables are built one file at a time).
TableSource: TypeAlias = pa.Table | Callable[[], pa.Table]
# Fixed writer options: same table => same bytes (no timestamps or random ids in the footer).
PARQUET_OPTIONS: dict[str, Any] = {
    "compression": "snappy",
    "use_dictionary": True,
    "write_statistics": True,
    "version": "2.6",
    "store_schema": True,
}


def write_parquet(table: pa.Table, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table.replace_schema_metadata(None), path, **PARQUET_OPTIONS)


def write_csv(table: pa.Table, path: Path) -> None:
    """Header row, comma separated; nulls as empty unquoted fields, which PostgreSQL COPY reads as NULL."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pa_csv.write_csv(table, path, pa_csv.WriteOptions(include_header=True, delimiter=","))


def write_manifest(manifest: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def read_manifest(out_dir: Path) -> dict[str, Any] | None:
    path = out_dir / MANIFEST
    if not path.is_file():
        return None
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def staging_dir(out_dir: Path) -> Path:
    """A fresh, empty sibling folder to write a world into."""
    staging = out_dir.parent / f".{out_dir.name}.generating"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    return staging


def publish(staging: Path, out_dir: Path) -> None:
    """Move the finished world into ``out_dir``, replacing a previous generated world."""
    if out_dir.exists():
        if any(out_dir.iterdir()) and not (out_dir / MANIFEST).is_file():
            shutil.rmtree(staging)
            raise FileExistsError(
                f"{out_dir} exists and is not a generated sample world (no {MANIFEST}); refusing to replace it"
            )
        shutil.rmtree(out_dir)
    staging.rename(out_dir)


def write_world(
    out_dir: Path,
    parquet_tables: dict[str, TableSource],
    csv_tables: dict[str, pa.Table],
    manifest: dict[str, Any],
) -> None:
    """Write every table (keys are paths relative to ``out_dir``) and the manifest, then publish."""
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = staging_dir(out_dir)
    try:
        for relative, source in parquet_tables.items():
            write_parquet(source if isinstance(source, pa.Table) else source(), staging / relative)
        for relative, table in csv_tables.items():
            write_csv(table, staging / relative)
        write_manifest(manifest, staging / MANIFEST)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    publish(staging, out_dir)
