"""BigQuery I/O: the only module that talks to BigQuery and writes the Parquet staging files.

The tested path, for production and the local emulator alike:

1. the dataset and each table are created if missing, with the schema mapped from
   the Delta schema (:func:`journeylake.publish.bigquery_schema`), DAY partitioning and
   clustering fields; columns the Delta table gained are added to the BigQuery table
   (``tables.patch``) before anything is loaded;
2. Spark writes the table as Parquet, columns in the BigQuery table's order, to
   ``<staging_uri>/<run_id>/<table>/`` (``gs://`` in production);
3. a load job brings the files into a staging table (``merge`` tables) and a MERGE on
   the key makes the target equal to Delta, or a WRITE_TRUNCATE load replaces the
   target (``truncate`` tables);
4. after success the staging table and the staged files are deleted (staging tables
   also expire by themselves after :data:`STAGING_TABLE_TTL`).

Credentials come from Application Default Credentials (``gcloud auth
application-default login`` on a laptop, the VM's service account on Dataproc,
``GOOGLE_APPLICATION_CREDENTIALS`` elsewhere). With ``api_endpoint`` set (the emulator)
anonymous credentials are used. The emulator maps ``gs://bucket/x`` to
``$BQEMU_GCS_LOCAL_ROOT/bucket/x``; with ``staging_local_root`` set Spark writes the
staged files to that local folder, and the load job still receives the ``gs://`` URI.

The service account needs BigQuery Data Editor on the dataset (or on the project, to
create the dataset), BigQuery Job User on the project, and read/write on the staging
bucket (Storage Object Admin on the bucket, for the cleanup).

Alternative for Dataproc (documented, not tested here): the Spark BigQuery connector
writes a DataFrame straight to a table, staging through GCS itself::

    spark-submit --packages com.google.cloud.spark:spark-4.1-bigquery:<version> ...

    (df.write.format("bigquery")
       .option("table", "project.dataset.user_journeys")
       .option("temporaryGcsBucket", "journeylake-staging")
       .option("partitionField", "start_ts").option("partitionType", "DAY")
       .option("clusteredFields", "canonical_user_id,status")
       .mode("overwrite").save())

It cannot talk to the emulator (it needs TLS gRPC and Google credentials), and it
appends or overwrites rather than MERGEs, so it suits the ``truncate`` tables; for the
others write to a staging table with it and run :func:`journeylake.publish.merge_sql`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import google.auth.exceptions
from google.api_core import exceptions as gexc
from google.api_core.client_options import ClientOptions
from google.api_core.retry import Retry
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery
from py4j.protocol import Py4JJavaError
from pyspark.errors import PySparkException
from pyspark.sql import DataFrame, SparkSession

from journeylake.config import BigQueryConfig
from journeylake.publish import (
    MERGE,
    PublishedTable,
    PublishError,
    TableLayout,
    add_column_sql,
    bad_keys,
    bigquery_schema,
    evolve_schema,
    merge_sql,
    publishable_frame,
    relaxed,
    split_staging_uri,
    staging_object_uri,
    staging_table_name,
    table_reference,
    validate_project,
)

STAGING_TABLE_TTL = timedelta(hours=24)  # leftovers of a failed run disappear by themselves
# Against a local emulator, give up quickly when it is not running instead of retrying for minutes.
EMULATOR_RETRY_DEADLINE_SECONDS = 15.0
PARQUET_TIMESTAMP_CONF = "spark.sql.parquet.outputTimestampType"
# INT96 (Spark's default) is a legacy encoding; microseconds match BigQuery's TIMESTAMP precision.
PARQUET_TIMESTAMP_TYPE = "TIMESTAMP_MICROS"
STAGED_FILES_GLOB = "*.parquet"  # skips Spark's _SUCCESS and .crc files


@dataclass(frozen=True)
class BigQueryTarget:
    """Where and how to publish; built from ``[bigquery]`` config and validated once."""

    project: str
    dataset: str
    location: str
    staging_uri: str
    api_endpoint: str = ""
    staging_local_root: str = ""

    @classmethod
    def from_config(cls, config: BigQueryConfig) -> BigQueryTarget:
        validate_project(config.project)
        table_reference(config.project, config.dataset, "probe")
        split_staging_uri(config.staging_uri)
        if not config.location:
            raise PublishError("bigquery.location is empty: set the dataset location, for example US or EU")
        return cls(
            project=config.project,
            dataset=config.dataset,
            location=config.location,
            staging_uri=config.staging_uri,
            api_endpoint=config.api_endpoint,
            staging_local_root=config.staging_local_root,
        )

    def ref(self, table: str) -> str:
        return table_reference(self.project, self.dataset, table)


@dataclass(frozen=True)
class PublishOutcome:
    table: str
    mode: str
    rows: int  # rows now in the BigQuery table (rows loaded)
    changed_rows: int | None  # rows inserted, updated or deleted by the MERGE; None for truncate loads
    added_columns: tuple[str, ...]
    partition_field: str | None
    clustering: tuple[str, ...]


def bigquery_client(target: BigQueryTarget) -> bigquery.Client:
    """A client on ADC, or on anonymous credentials against ``api_endpoint`` (the emulator)."""
    if target.api_endpoint:
        return bigquery.Client(
            project=target.project,
            location=target.location,
            credentials=AnonymousCredentials(),
            client_options=ClientOptions(api_endpoint=target.api_endpoint),
        )
    with _explained("creating the BigQuery client"):
        return bigquery.Client(project=target.project, location=target.location)


def _first_line(error: BaseException) -> str:
    if isinstance(error, gexc.GoogleAPICallError):
        text = error.message or str(error)
    elif isinstance(error, Py4JJavaError):
        text = str(error.java_exception.toString())
    else:
        text = str(error)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


@contextmanager
def _explained(action: str, not_found_hint: str = "") -> Iterator[None]:
    """Turn Google API errors into a one-line :class:`PublishError` saying what failed and what to do."""
    try:
        yield
    except gexc.Forbidden as error:
        raise PublishError(
            f"permission denied {action}: {_first_line(error)}; the credentials need BigQuery Data Editor on the "
            "dataset, BigQuery Job User on the project and access to the staging bucket"
        ) from error
    except gexc.NotFound as error:
        raise PublishError(f"not found {action}: {_first_line(error)}{not_found_hint}") from error
    except gexc.BadRequest as error:
        raise PublishError(f"BigQuery rejected {action}: {_first_line(error)}{not_found_hint}") from error
    except gexc.GoogleAPICallError as error:
        raise PublishError(f"BigQuery error {action}: {_first_line(error)}") from error
    except gexc.RetryError as error:
        raise PublishError(f"BigQuery did not answer {action} (is the endpoint reachable?): {error}") from error
    except google.auth.exceptions.DefaultCredentialsError as error:
        raise PublishError(
            "no Application Default Credentials: run `gcloud auth application-default login` "
            "or set GOOGLE_APPLICATION_CREDENTIALS to a service-account key file"
        ) from error
    except google.auth.exceptions.GoogleAuthError as error:
        raise PublishError(f"authentication failed {action}: {_first_line(error)}") from error


def local_staging_path(uri: str, local_root: str) -> str:
    """``gs://bucket/x`` -> ``<local_root>/bucket/x``, the file the emulator reads for that URI."""
    if not uri.startswith("gs://"):
        raise PublishError(f"staging URI {uri!r} is not a gs:// URI")
    root = Path(local_root).resolve()
    path = (root / uri[len("gs://") :]).resolve()
    if root not in path.parents:
        raise PublishError(f"staging URI {uri!r} escapes the local staging root {root}")
    return str(path)


def _delete_tree(spark: SparkSession, path: str) -> None:
    """Delete a folder through Hadoop's file system, which knows gs:// (on Dataproc) and local paths alike."""
    jvm: Any = spark.sparkContext._jvm
    hadoop_path = jvm.org.apache.hadoop.fs.Path(path)
    hadoop_conf = spark.sparkContext._jsc.hadoopConfiguration()
    hadoop_path.getFileSystem(hadoop_conf).delete(hadoop_path, True)


class BigQueryPublisher:
    """Publishes lake tables of one run to one BigQuery dataset."""

    def __init__(self, target: BigQueryTarget, run_id: str, client: bigquery.Client | None = None) -> None:
        self.target = target
        self.run_id = run_id
        self.client = client if client is not None else bigquery_client(target)
        self.retry: Retry = (
            bigquery.DEFAULT_RETRY.with_deadline(EMULATOR_RETRY_DEADLINE_SECONDS)
            if target.api_endpoint
            else bigquery.DEFAULT_RETRY
        )

    # ---- DDL ---------------------------------------------------------------------------------------------

    def ensure_dataset(self) -> None:
        """Create the dataset in the configured location if missing; refuse one in another location."""
        dataset_id = f"{self.target.project}.{self.target.dataset}"
        with _explained(f"reading dataset {dataset_id}"):
            dataset = self._get_or_none(self.client.get_dataset, dataset_id)
        if dataset is None:
            new = bigquery.Dataset(dataset_id)
            new.location = self.target.location
            with _explained(f"creating dataset {dataset_id} in {self.target.location}"):
                self.client.create_dataset(new, exists_ok=True, retry=self.retry)
            return
        if dataset.location and dataset.location.lower() != self.target.location.lower():
            raise PublishError(
                f"dataset {dataset_id} is in {dataset.location}, but bigquery.location is {self.target.location}"
            )

    def _get_or_none(self, getter: Any, ref: str) -> Any:
        try:
            return getter(ref, retry=self.retry)
        except gexc.NotFound:
            return None

    def ensure_table(
        self, table: str, desired: list[bigquery.SchemaField], layout: TableLayout
    ) -> tuple[list[bigquery.SchemaField], tuple[str, ...]]:
        """Create the table, or evolve its schema and clustering; returns (schema now in BigQuery, added columns)."""
        ref = self.target.ref(table)
        with _explained(f"reading table {ref}"):
            existing = self._get_or_none(self.client.get_table, ref)
        if existing is None:
            new = bigquery.Table(ref, schema=desired)
            if layout.partition_field:
                new.time_partitioning = bigquery.TimePartitioning(
                    type_=bigquery.TimePartitioningType.DAY, field=layout.partition_field
                )
            new.clustering_fields = list(layout.clustering) or None
            with _explained(f"creating table {ref}"):
                self.client.create_table(new, exists_ok=True, retry=self.retry)
            return desired, ()

        current_partition = existing.time_partitioning.field if existing.time_partitioning else None
        if current_partition != layout.partition_field:
            raise PublishError(
                f"{ref} is partitioned on {current_partition or 'nothing'} but the registry says "
                f"{layout.partition_field or 'nothing'}; BigQuery cannot change partitioning: recreate the table"
            )
        evolved = evolve_schema(list(existing.schema), desired, ref)
        known = {f.name.lower() for f in existing.schema}
        added = tuple(f.name for f in evolved if f.name.lower() not in known)
        fields_to_update = []
        if evolved != list(existing.schema):
            existing.schema = evolved
            fields_to_update.append("schema")
        if list(existing.clustering_fields or []) != list(layout.clustering):
            # Unlike partitioning, clustering may change; BigQuery re-clusters new data from then on.
            existing.clustering_fields = list(layout.clustering) or None
            fields_to_update.append("clustering_fields")
        if fields_to_update:
            with _explained(f"updating {', '.join(fields_to_update)} of {ref}"):
                self.client.update_table(existing, fields_to_update, retry=self.retry)
        # A no-op on BigQuery (the patch added the columns); the emulator needs it to add them to its storage.
        # Columns added inside existing records cannot be done this way: the emulator does not support them.
        for field in evolved:
            if field.name in added:
                self._query(add_column_sql(ref, field), f"adding column {field.name} to {ref}")
        return evolved, added

    # ---- data --------------------------------------------------------------------------------------------

    def check_keys(self, df: DataFrame, table: str, keys: tuple[str, ...]) -> None:
        """Fail before any load when a key is duplicated or null (see :func:`journeylake.publish.bad_keys`)."""
        # One row at most: a bounded collect, whatever the table size.
        sample = bad_keys(df, keys).limit(1).collect()
        if sample:
            row = sample[0]
            key_text = ", ".join(f"{k}={row[k]!r}" for k in keys)
            raise PublishError(
                f"{table}: {row['problem']} ({key_text}, {row['rows']} rows); BigQuery MERGE needs unique, "
                "non-null keys: fix the stage that wrote the table"
            )

    def stage_parquet(self, df: DataFrame, uri: str) -> None:
        """Write ``df`` as Parquet to ``uri`` (or its local stand-in), replacing an earlier attempt of the run."""
        path = local_staging_path(uri, self.target.staging_local_root) if self.target.staging_local_root else uri
        spark = df.sparkSession
        previous = spark.conf.get(PARQUET_TIMESTAMP_CONF, None)
        spark.conf.set(PARQUET_TIMESTAMP_CONF, PARQUET_TIMESTAMP_TYPE)
        try:
            df.write.mode("overwrite").parquet(path)
        except (Py4JJavaError, PySparkException) as error:
            raise PublishError(
                f"cannot write staging Parquet to {uri}: {_first_line(error)}; check that the bucket exists "
                "and this cluster can write to it"
            ) from error
        finally:
            if previous is None:
                spark.conf.unset(PARQUET_TIMESTAMP_CONF)
            else:
                spark.conf.set(PARQUET_TIMESTAMP_CONF, previous)

    def delete_staged(self, spark: SparkSession, uri: str) -> None:
        path = local_staging_path(uri, self.target.staging_local_root) if self.target.staging_local_root else uri
        _delete_tree(spark, path)

    def _load(self, uri: str, ref: str, schema: list[bigquery.SchemaField], layout: TableLayout | None) -> int:
        config = bigquery.LoadJobConfig(
            source_format=bigquery.SourceFormat.PARQUET,
            write_disposition=bigquery.WriteDisposition.WRITE_TRUNCATE,
            create_disposition=bigquery.CreateDisposition.CREATE_NEVER,
            schema=schema,
        )
        parquet_options = bigquery.ParquetOptions()
        # Spark writes arrays as Parquet LIST groups; inference maps them to REPEATED fields.
        parquet_options.enable_list_inference = True
        config.parquet_options = parquet_options
        if layout is not None:
            # A WRITE_TRUNCATE load into the target must restate its partitioning and clustering.
            if layout.partition_field:
                config.time_partitioning = bigquery.TimePartitioning(
                    type_=bigquery.TimePartitioningType.DAY, field=layout.partition_field
                )
            config.clustering_fields = list(layout.clustering) or None
        source = f"{uri}/{STAGED_FILES_GLOB}"
        hint = f" (no staged files at {source}? check the bucket exists and BigQuery may read it)"
        with _explained(f"loading {source} into {ref}", not_found_hint=hint):
            job = self.client.load_table_from_uri(
                source, ref, job_config=config, location=self.target.location, retry=self.retry
            )
            job.result()
        return int(job.output_rows or 0)

    def _query(self, sql: str, action: str) -> int | None:
        with _explained(action):
            job = self.client.query(sql, location=self.target.location, retry=self.retry)
            job.result()
        return job.num_dml_affected_rows

    def publish(self, df: DataFrame, spec: PublishedTable, layout: TableLayout) -> PublishOutcome:
        """Make the BigQuery table ``spec.name`` equal to ``df`` (the whole Delta table)."""
        if layout.mode == MERGE:
            # A truncate load replaces the table whatever its keys; only a MERGE depends on them.
            self.check_keys(df, spec.qualified_name, layout.keys)
        desired = bigquery_schema(df.schema)
        schema, added = self.ensure_table(spec.name, desired, layout)
        staged = publishable_frame(df, [f.name for f in schema])
        uri = staging_object_uri(self.target.staging_uri, self.run_id, spec.name)
        self.stage_parquet(staged, uri)

        target_ref = self.target.ref(spec.name)
        changed: int | None = None
        if layout.mode == MERGE:
            staging_ref = self.target.ref(staging_table_name(spec.name, self.run_id))
            staging_schema = relaxed(schema)
            staging_table = bigquery.Table(staging_ref, schema=staging_schema)
            staging_table.expires = datetime.now(UTC) + STAGING_TABLE_TTL
            with _explained(f"creating staging table {staging_ref}"):
                self.client.delete_table(staging_ref, not_found_ok=True, retry=self.retry)
                self.client.create_table(staging_table, retry=self.retry)
            rows = self._load(uri, staging_ref, staging_schema, layout=None)
            sql = merge_sql(target_ref, staging_ref, schema, layout.keys)
            changed = self._query(sql, f"merging {staging_ref} into {target_ref}")
            with _explained(f"dropping staging table {staging_ref}"):
                self.client.delete_table(staging_ref, not_found_ok=True, retry=self.retry)
        else:
            rows = self._load(uri, target_ref, schema, layout=layout)
        self.delete_staged(df.sparkSession, uri)
        return PublishOutcome(
            table=spec.name,
            mode=layout.mode,
            rows=rows,
            changed_rows=changed,
            added_columns=added,
            partition_field=layout.partition_field,
            clustering=layout.clustering,
        )

    def delete_run_staging(self, spark: SparkSession) -> None:
        """Remove ``<staging_uri>/<run_id>/`` once every table of the run is published."""
        table_uri = staging_object_uri(self.target.staging_uri, self.run_id, "probe")
        self.delete_staged(spark, table_uri.rsplit("/", 1)[0])
