"""Secrets (the PII salt, the backend database password): an environment variable, else the platform's store.

The variable comes first (Databricks puts secret-scope values in ``spark_env_vars``; a laptop exports it). On
Dataproc the secrets stay in Secret Manager and reach the job through Hadoop's credential providers: the cluster
or job property ``hadoop.security.credential.provider.path=gsm://projects/<project>`` makes the secret named by
the alias readable, and nothing secret is written into a property, a file or the workflow. Any other Hadoop
credential provider works the same way (``jceks://`` keystores on a shared disk, which the tests use).

Only the providers are asked: Hadoop's ``Configuration.getPassword`` would fall back to a clear-text
configuration key of the same name, which would let a secret sit in a config file unnoticed.
"""

from __future__ import annotations

import os

from pyspark.sql import SparkSession

PROVIDER_PATH_KEY = "hadoop.security.credential.provider.path"


def read_secret(spark: SparkSession | None, env_name: str, alias: str) -> tuple[str | None, str]:
    """(value, where it came from): ``env_name`` if set, else ``alias`` in the session's credential providers.

    ``where`` is "environment", "credential provider" or "" when neither has it (the value is then None).
    """
    value = os.environ.get(env_name)
    if value:
        return value, "environment"
    if spark is None or not alias:
        return None, ""
    jvm = spark.sparkContext._jvm
    if jvm is None:  # Spark Connect: no JVM gateway, so only the environment can hold secrets
        return None, ""
    hadoop = spark.sparkContext._jsc.hadoopConfiguration()
    if not hadoop.get(PROVIDER_PATH_KEY):
        return None, ""
    for provider in jvm.org.apache.hadoop.security.alias.CredentialProviderFactory.getProviders(hadoop):
        entry = provider.getCredentialEntry(alias)
        if entry is not None:
            return str(jvm.java.lang.String(entry.getCredential())), "credential provider"
    return None, ""
