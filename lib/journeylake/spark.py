"""The one SparkSession factory used by every job, notebook and test.

On Databricks or Dataproc a session already exists (with Delta and the cluster's
libraries attached by the platform): :func:`get_spark` returns it and only sets
the session-level options we rely on. Locally it builds a session with the Delta
extension, the jars that ``make setup`` resolved with Maven into ``jars/``, a
checkpoint directory, UTC time and shuffle partitions sized to the cores.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from pyspark.sql import SparkSession

from journeylake.resources import LOG4J2_CONFIG as LOG4J2_RESOURCE
from journeylake.resources import SOURCE_ROOT, local_file

PROJECT_ROOT = SOURCE_ROOT
JARS_DIR_ENV = "JOURNEYLAKE_JARS_DIR"
DEFAULT_JARS_DIR = PROJECT_ROOT / "jars"
SHUFFLE_PARTITIONS_PER_CORE = 2
# Delta reads its log with this many partitions; its default (50) makes every
# small-table commit schedule 50 tasks, which dominates local runs.
DELTA_SNAPSHOT_PARTITIONS = 1
# The GCS Hadoop connector (jvm/pom.xml) and its classes.
GCS_CONNECTOR_JAR_PREFIX = "gcs-connector-"
GCS_FILE_SYSTEM = "com.google.cloud.hadoop.fs.gcs.GoogleHadoopFileSystem"
GCS_ABSTRACT_FILE_SYSTEM = "com.google.cloud.hadoop.fs.gcs.GoogleHadoopFS"
# Spark's JVM logs: WARN unless asked otherwise (INFO prints a dozen lines per job).
SPARK_LOG_LEVEL_ENV = "JOURNEYLAKE_SPARK_LOG_LEVEL"
DEFAULT_SPARK_LOG_LEVEL = "WARN"
# Quiet from the first JVM line (before setLogLevel can run) with one key=value line per message.
LOG4J2_CONFIG = local_file(LOG4J2_RESOURCE)
# The console progress bar: "1"/"0" forces it on/off; by default it is on when stderr is a terminal.
PROGRESS_ENV = "JOURNEYLAKE_PROGRESS"


def show_progress(environ: dict[str, str] | None = None, interactive: bool | None = None) -> bool:
    """Whether Spark draws its console progress bar (stages running longer than half a second).

    On by default only when stderr is a terminal: in a log file or a CI capture its carriage returns
    turn into thousands of lines.
    """
    forced = (environ if environ is not None else os.environ).get(PROGRESS_ENV, "").strip().lower()
    if forced in ("1", "true", "yes", "on"):
        return True
    if forced in ("0", "false", "no", "off"):
        return False
    return sys.stderr.isatty() if interactive is None else interactive


def driver_java_options(log4j2_config: Path | None = LOG4J2_CONFIG) -> str:
    """The driver JVM options of a local session: UTC, and our log4j2 config when the project ships one."""
    options = ["-Duser.timezone=UTC"]
    if log4j2_config is not None and log4j2_config.is_file():
        options.append(f"-Dlog4j2.configurationFile={log4j2_config.as_uri()}")
    return " ".join(options)


def jar_paths(jars_dir: str | Path | None = None) -> list[str]:
    """The jars resolved by ``make setup``; empty when none are there (a cluster attaches its own)."""
    folder = Path(jars_dir or os.environ.get(JARS_DIR_ENV) or DEFAULT_JARS_DIR)
    return sorted(str(p) for p in folder.glob("*.jar")) if folder.is_dir() else []


def get_spark(
    app_name: str = "journeylake",
    *,
    master: str | None = None,
    shuffle_partitions: int = 0,
    checkpoint_dir: str | None = None,
    driver_memory: str = "4g",
    ui: bool = True,
    extra_conf: dict[str, str] | None = None,
) -> SparkSession:
    """Return the active session, or build a local one configured for journeylake.

    ``shuffle_partitions=0`` picks two per local core. ``checkpoint_dir`` defaults
    to a folder under the system temp dir (GraphFrames and iterative joins need one).
    """
    active = SparkSession.getActiveSession()
    if active is not None:
        _apply_session_conf(active, shuffle_partitions, checkpoint_dir)
        apply_hadoop_conf(active, extra_conf or {})
        return active

    cores = os.cpu_count() or 2
    partitions = shuffle_partitions or max(2, cores * SHUFFLE_PARTITIONS_PER_CORE)
    builder = SparkSession.builder.appName(app_name)
    # Under spark-submit the JVM is already up (PYSPARK_GATEWAY_PORT is set) with the
    # --master, --jars and --packages the user gave: those must win over our local defaults.
    submitted = "PYSPARK_GATEWAY_PORT" in os.environ
    if not submitted:
        chosen = master or os.environ.get("JOURNEYLAKE_SPARK_MASTER", f"local[{cores}]")
        if chosen.startswith("local"):
            # One JVM on this machine: bind to loopback rather than guess an interface (Spark warns when the
            # hostname resolves to 127.0.0.1 and picks another address that a laptop's VPN may drop).
            os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        builder = builder.master(chosen)
    builder = (
        builder.config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
        .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", str(partitions))
        .config("spark.sql.adaptive.enabled", "true")
        .config("spark.databricks.delta.snapshotPartitions", str(DELTA_SNAPSHOT_PARTITIONS))
        .config("spark.driver.memory", driver_memory)
        .config("spark.ui.enabled", str(ui).lower())
        .config("spark.ui.showConsoleProgress", str(show_progress()).lower())
        .config("spark.driver.extraJavaOptions", driver_java_options())
        .config("spark.executor.extraJavaOptions", "-Duser.timezone=UTC")
        # Python workers (only createDataFrame from local rows and small driver helpers need them)
        # must run the interpreter that has pyspark and our dependencies, not whatever python3 is on PATH.
        .config("spark.pyspark.python", os.environ.get("PYSPARK_PYTHON", sys.executable))
        .config("spark.pyspark.driver.python", sys.executable)
    )
    jars = [] if submitted else jar_paths()
    if jars:
        builder = builder.config("spark.jars", ",".join(jars))
    if any(Path(jar).name.startswith(GCS_CONNECTOR_JAR_PREFIX) for jar in jars):
        # Hadoop finds file systems with a ServiceLoader on the system class loader, which does not see
        # spark.jars: name the connector's classes so that gs:// lakes work locally as on Dataproc.
        builder = builder.config("spark.hadoop.fs.gs.impl", GCS_FILE_SYSTEM).config(
            "spark.hadoop.fs.AbstractFileSystem.gs.impl", GCS_ABSTRACT_FILE_SYSTEM
        )
    for key, value in (extra_conf or {}).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel(os.environ.get(SPARK_LOG_LEVEL_ENV, DEFAULT_SPARK_LOG_LEVEL).upper())
    _apply_session_conf(spark, 0, checkpoint_dir)
    return spark


HADOOP_PREFIX = "spark.hadoop."


def apply_hadoop_conf(spark: SparkSession, conf: dict[str, str]) -> None:
    """Set the ``spark.hadoop.*`` keys of ``conf`` on a running session's Hadoop configuration (the connectors
    read it when they first open a store)."""
    hadoop = spark.sparkContext._jsc.hadoopConfiguration()
    for key, value in conf.items():
        if key.startswith(HADOOP_PREFIX):
            hadoop.set(key.removeprefix(HADOOP_PREFIX), value)


def _apply_session_conf(spark: SparkSession, shuffle_partitions: int, checkpoint_dir: str | None) -> None:
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    if shuffle_partitions:
        spark.conf.set("spark.sql.shuffle.partitions", str(shuffle_partitions))
    if checkpoint_dir:
        spark.sparkContext.setCheckpointDir(checkpoint_dir)
    elif not spark.sparkContext.getCheckpointDir():
        spark.sparkContext.setCheckpointDir(str(Path(os.environ.get("TMPDIR", "/tmp")) / "journeylake-checkpoints"))
