"""Secrets come from the environment, else from a Hadoop credential provider (Secret Manager on Dataproc).

The provider here is a ``jceks://`` keystore, which Hadoop reads through the same API as Dataproc's ``gsm://``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from journeylake.config import BackendConfig, PipelineConfig
from journeylake.io.backend import BackendConfigError, jdbc_properties
from journeylake.io.secrets import PROVIDER_PATH_KEY, read_secret
from journeylake.stages.ingest import DefaultSaltRefusedError, pii_salt

pytestmark = pytest.mark.unit

SALT_ENV, PASSWORD_ENV = PipelineConfig().ingest.pii_salt_env, BackendConfig().password_env


@pytest.fixture
def keystore(spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A credential keystore holding the salt and the DB password, set as the session's provider."""
    monkeypatch.delenv(SALT_ENV, raising=False)
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    uri = f"jceks://file{tmp_path / 'secrets.jceks'}"
    conf = jvm.org.apache.hadoop.conf.Configuration()
    conf.set(PROVIDER_PATH_KEY, uri)
    provider = jvm.org.apache.hadoop.security.alias.CredentialProviderFactory.getProviders(conf).get(0)
    gateway = spark.sparkContext._gateway
    assert gateway is not None
    for alias, value in (("journeylake-pii-salt", "salt-from-the-store"), ("journeylake-db-password", "pw-store")):
        chars = gateway.new_array(jvm.char, len(value))
        for i, char in enumerate(value):
            chars[i] = char
        provider.createCredentialEntry(alias, chars)
    provider.flush()
    hadoop = spark.sparkContext._jsc.hadoopConfiguration()
    hadoop.set(PROVIDER_PATH_KEY, uri)
    try:
        yield
    finally:
        hadoop.unset(PROVIDER_PATH_KEY)


def test_the_provider_gives_the_salt_and_the_password(spark: SparkSession, keystore: None) -> None:
    config = PipelineConfig()
    ga4 = replace(config, input=replace(config.input, ga4_dir="/exports/ga4"))
    assert pii_salt(ga4, spark) == ("salt-from-the-store", "credential provider")
    assert jdbc_properties(config.backend, spark)["password"] == "pw-store"


def test_the_environment_wins_over_the_provider(
    spark: SparkSession, keystore: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SALT_ENV, "salt-from-env")
    assert read_secret(spark, SALT_ENV, "journeylake-pii-salt") == ("salt-from-env", "environment")


def test_an_unknown_alias_or_no_provider_gives_nothing_and_the_default_salt_is_refused(
    spark: SparkSession, keystore: None
) -> None:
    assert read_secret(spark, SALT_ENV, "no-such-alias") == (None, "")
    config = PipelineConfig()
    hadoop = spark.sparkContext._jsc.hadoopConfiguration()
    hadoop.unset(PROVIDER_PATH_KEY)
    assert read_secret(spark, SALT_ENV, "journeylake-pii-salt") == (None, "")
    ga4 = replace(config, input=replace(config.input, ga4_dir="/exports/ga4"))
    with pytest.raises(DefaultSaltRefusedError, match="journeylake-pii-salt"):
        pii_salt(ga4, spark)
    with pytest.raises(BackendConfigError, match="journeylake-db-password"):
        jdbc_properties(config.backend, spark)


def test_a_clear_text_config_key_is_not_a_secret(spark: SparkSession, keystore: None) -> None:
    """Hadoop's getPassword would fall back to a config key named like the alias; secrets must not sit there."""
    hadoop = spark.sparkContext._jsc.hadoopConfiguration()
    hadoop.set("journeylake-clear-text", "oops")
    try:
        assert read_secret(spark, SALT_ENV, "journeylake-clear-text") == (None, "")
    finally:
        hadoop.unset("journeylake-clear-text")
