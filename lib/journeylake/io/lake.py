"""Lake locations as URIs: plain paths, ``file:/``, ``gs://``, ``s3a://``, ``abfss://``, ``dbfs:/``.

A lake root is kept as the string the user gave. Table and report locations are joined onto it as
strings (never through :mod:`pathlib`, which turns ``gs://bucket`` into ``gs:/bucket``). Plain paths
and ``file:`` URIs are local: they are read and written with Python's file functions. Everything else
goes through Hadoop's FileSystem API of the Spark session, so any store with a Hadoop connector on the
classpath (the GCS connector, S3A, ABFS, DBFS on Databricks) works the same way.
"""

from __future__ import annotations

import os
import posixpath
import re
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from pyspark.sql import SparkSession

LAYERS = ("bronze", "silver", "gold", "meta")
REPORTS_DIR = "reports"  # <lake>/reports/<report>: the run report and the expectation report
_TABLE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,127}$")
# A scheme is at least two characters, so a Windows drive letter ("C:\\lake") is not one.
_SCHEME = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]+):")


def scheme_of(uri: str) -> str:
    """The URI scheme, lower-cased; "" for a plain path."""
    match = _SCHEME.match(uri)
    return match.group("scheme").lower() if match else ""


def is_local(uri: str) -> bool:
    """True for plain paths and ``file:`` URIs (read and written with Python's file functions)."""
    return scheme_of(uri) in ("", "file")


def local_path(uri: str) -> str:
    """The local filesystem path of a plain path or ``file:`` URI."""
    if scheme_of(uri) == "file":
        return unquote(urlparse(uri).path)
    return uri


def join_uri(base: str, *parts: str) -> str:
    """``base`` and ``parts`` joined with single slashes; the scheme and authority of ``base`` are kept."""
    joined = base.rstrip("/") if base.rstrip("/") else base
    for part in parts:
        piece = part.strip("/")
        if piece:
            joined = f"{joined}/{piece}" if not joined.endswith("/") else f"{joined}{piece}"
    return joined


def table_uri(lake: str, layer: str, table: str) -> str:
    """``<lake>/<layer>/<table>``; the names are checked, so a configured name cannot point outside the lake."""
    if layer not in LAYERS:
        raise ValueError(f"unknown layer {layer!r}; expected one of {LAYERS}")
    if not _TABLE_NAME.match(table):
        raise ValueError(f"invalid table name {table!r}: lower-case letters, digits and underscores only")
    return join_uri(lake, layer, table)


def report_uri(lake: str, report: str) -> str:
    """Where a report of the lake is written: ``<lake>/reports/<report>``."""
    return join_uri(lake, REPORTS_DIR, report)


def report_location(configured: str, lake: str, report: str) -> str:
    """The configured report folder (a path or URI), else the lake's ``reports/<report>``; local ones absolute."""
    location = configured or report_uri(lake, report)
    return str(Path(local_path(location)).resolve()) if is_local(location) else location


def relative_href(target: str, from_dir: str) -> str:
    """A link from a page in ``from_dir`` to ``target``: relative when both are on the same store, else absolute."""
    if is_local(target) and is_local(from_dir):
        return Path(
            os.path.relpath(Path(local_path(target)).resolve(), Path(local_path(from_dir)).resolve())
        ).as_posix()
    a, b = urlparse(target), urlparse(from_dir)
    if (a.scheme, a.netloc) == (b.scheme, b.netloc) and a.scheme:
        return posixpath.relpath(a.path, b.path or "/")
    return target


# ---- files on any store ------------------------------------------------------------------------------------


def _hadoop(spark: SparkSession, uri: str) -> tuple[Any, Any]:
    """(FileSystem, Path) of ``uri`` through the session's Hadoop configuration."""
    jvm = spark.sparkContext._jvm
    assert jvm is not None, "Hadoop file access needs the JVM gateway (not available under Spark Connect)"
    path = jvm.org.apache.hadoop.fs.Path(uri)
    return path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()), path


def exists(spark: SparkSession, uri: str) -> bool:
    if is_local(uri):
        return os.path.exists(local_path(uri))
    fs, path = _hadoop(spark, uri)
    return bool(fs.exists(path))


def read_text(spark: SparkSession, uri: str) -> str | None:
    """The file's text, or None when it does not exist."""
    if is_local(uri):
        try:
            return Path(local_path(uri)).read_text()
        except FileNotFoundError:
            return None
    fs, path = _hadoop(spark, uri)
    if not fs.exists(path):
        return None
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    stream = fs.open(path)
    try:
        return str(jvm.org.apache.commons.io.IOUtils.toString(stream, "UTF-8"))
    finally:
        stream.close()


def _hidden(path: str, root: str) -> bool:
    relative = path[len(root) :] if path.startswith(root) else path.rsplit("/", 1)[-1]
    return any(part.startswith(("_", ".")) for part in relative.split("/") if part)


def list_files(spark: SparkSession, root: str, suffixes: Sequence[str]) -> list[tuple[str, int, datetime]]:
    """(uri, size, modification time) of the files under ``root`` (recursively) ending in ``suffixes``, sorted;
    empty when ``root`` does not exist. Through Hadoop's FileSystem API on the driver, so on any store. Like
    Spark's file sources, names starting with ``_`` or ``.`` are skipped at every level."""
    fs, path = _hadoop(spark, root)
    if not fs.exists(path):
        return []
    qualified = str(fs.makeQualified(path).toString()).rstrip("/")
    wanted = tuple(s.lower() for s in suffixes)
    found = []
    files = fs.listFiles(path, True)
    while files.hasNext():
        status = files.next()
        name = str(status.getPath().toString())
        if name.lower().endswith(wanted) and not _hidden(name, qualified):
            # Time-zone aware: Spark would read a naive datetime in the Python process's local zone.
            modified = datetime.fromtimestamp(status.getModificationTime() / 1000, UTC)
            found.append((name, int(status.getLen()), modified))
    return sorted(found)


def create_exclusive(spark: SparkSession, uri: str, text: str) -> bool:
    """Create the file with ``text`` only if it does not exist yet; False when it already did.

    Atomic where the store makes it so: ``O_CREAT | O_EXCL`` on local and POSIX shared disks, and Hadoop's
    ``create(path, overwrite=false)`` elsewhere, which the GCS connector implements with a generation
    precondition (``ifGenerationMatch=0``), so of two writers exactly one succeeds.
    """
    if is_local(uri):
        target = Path(local_path(uri))
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        return True
    fs, path = _hadoop(spark, uri)
    try:
        stream = fs.create(path, False)
    except Exception as error:  # py4j wraps the JVM's FileAlreadyExistsException
        if "FileAlreadyExists" in str(error) or "already exists" in str(error).lower():
            return False
        raise
    try:
        stream.write(bytearray(text.encode("utf-8")))
    finally:
        stream.close()
    return True


def delete(spark: SparkSession, uri: str, recursive: bool = False) -> None:
    """Remove the file (or, with ``recursive``, the folder); nothing happens when it is absent."""
    if is_local(uri):
        target = Path(local_path(uri))
        if target.is_dir() and recursive:
            shutil.rmtree(target, ignore_errors=True)
        else:
            target.unlink(missing_ok=True)
        return
    fs, path = _hadoop(spark, uri)
    if fs.exists(path):
        fs.delete(path, recursive)


def publish_folder(spark: SparkSession, local_dir: Path, uri: str) -> None:
    """Copy the files of ``local_dir`` to the folder at ``uri`` (replacing what is there); local targets are
    already where they belong when ``uri`` is ``local_dir``."""
    if is_local(uri):
        target = Path(local_path(uri))
        if target.resolve() != local_dir.resolve():
            shutil.copytree(local_dir, target, dirs_exist_ok=True)
        return
    fs, path = _hadoop(spark, uri)
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    fs.mkdirs(path)
    for child in sorted(local_dir.iterdir()):
        source = jvm.org.apache.hadoop.fs.Path(child.resolve().as_uri())
        fs.copyFromLocalFile(False, True, source, jvm.org.apache.hadoop.fs.Path(join_uri(uri, child.name)))


@contextmanager
def local_folder_for(uri: str, prefix: str) -> Iterator[Path]:
    """A local folder to write a report into: ``uri`` itself when it is local, else a temporary folder
    (copy it to ``uri`` with :func:`publish_folder` before leaving the block)."""
    if is_local(uri):
        folder = Path(local_path(uri))
        folder.mkdir(parents=True, exist_ok=True)
        yield folder
        return
    with tempfile.TemporaryDirectory(prefix=prefix) as temporary:
        yield Path(temporary)
