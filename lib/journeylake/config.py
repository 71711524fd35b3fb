"""One typed configuration for every job, loaded from TOML with documented defaults.

Every threshold the pipeline uses lives here, with its default, so that a run is
described by one file (``conf/default.toml`` documents each key). Jobs load a
file with :func:`load_config` and apply command-line overrides with
:func:`with_overrides`; library functions take the section they need.

Secrets never live here: the database password and cloud credentials come from
the environment or the platform (see ``BackendConfig.password_env``).
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from journeylake.resources import DEFAULT_CONFIG


class ConfigError(ValueError):
    """A config file or a flag value is wrong: the run does not start, and the message names the key."""


@dataclass(frozen=True)
class LakeConfig:
    root: str = "lakehouse"  # Delta tables live at <root>/<layer>/<table>; a folder or a URI (gs://, s3a://...)
    checkpoint_dir: str = ""  # Spark checkpoints; default: a folder under the system temp dir
    # A run lock older than this is taken over (a run killed on another machine cannot be checked for life).
    lock_ttl_hours: float = 24.0


@dataclass(frozen=True)
class InputConfig:
    sample_dir: str = "data/sample"  # where the generated sample world is written and read
    ga4_dir: str = ""  # GA4 export Parquet/JSON files; empty: use the generated sample
    sample_seed: int = 42
    sample_scale: float = 1.0  # 1.0 is the default world (a few hundred thousand events)


@dataclass(frozen=True)
class IngestConfig:
    # Events later than as-of plus this many hours are quarantined as "future timestamp".
    max_future_hours: int = 24
    # Events before this date are quarantined as "timestamp too old" (GA4 started in 2019).
    min_event_date: str = "2015-01-01"
    # Salt for hashing e-mails and phones: this environment variable, else this alias in the Hadoop credential
    # providers (on Dataproc, a Secret Manager secret; see journeylake.io.secrets).
    pii_salt_env: str = "JOURNEYLAKE_PII_SALT"
    pii_salt_secret: str = "journeylake-pii-salt"
    # Used when the variable is unset, for the generated sample only: on any other input the run is refused,
    # unless allow_default_pii_salt says in so many words that hashes anyone can recompute are acceptable.
    pii_salt_default: str = "journeylake-local-salt"
    allow_default_pii_salt: bool = False
    # Re-read the GA4 files dated (by their events_YYYYMMDD name) in this inclusive range, ISO dates;
    # empty: read every file that is new or changed since the last run (meta.ingest_files).
    from_date: str = ""
    to_date: str = ""


@dataclass(frozen=True)
class IdentityConfig:
    max_devices_per_login: int = 10  # a login on more devices is a shared/test account
    max_logins_per_device: int = 3  # a device with more logins is shared (household tablet, kiosk)
    max_devices_per_email: int = 10
    max_devices_per_phone: int = 10
    max_devices_per_fingerprint: int = 5
    max_devices_per_gclid: int = 3  # one click lands on one device; more means a shared/forwarded link
    max_devices_per_transaction: int = 3  # one purchase fires on one device; more is a placeholder or test id
    max_component_size: int = 50  # nodes; larger components are split back to their devices
    use_fingerprint_edges: bool = False  # probabilistic; off by default because it costs precision
    blocked_values: tuple[str, ...] = (
        "",
        "unknown",
        "0",
        "null",
        "none",
        "(not set)",
        "(data deleted)",
        "<other>",
        "<obfuscated>",
        "undefined",
        "test@example.com",
    )
    # GraphFrames connectedComponents settings (used where the GraphFrames jar is attached).
    cc_algorithm: str = "two_phase"
    cc_broadcast_threshold: int = -1
    cc_checkpoint_interval: int = 2


@dataclass(frozen=True)
class SessionConfig:
    session_timeout_minutes: int = 30
    engaged_min_seconds: int = 10  # GA4: engaged if >= 10 s, or a conversion, or >= 2 page views
    engaged_min_page_views: int = 2


@dataclass(frozen=True)
class JourneyConfig:
    journey_timeout_days: int = 14
    max_journey_days: int = 90
    inactivity_hours: int = 72  # INTENT/CONSIDERING journeys idle this long are abandoned (inactive)
    # Engagement score thresholds that move a journey AWARE -> CONSIDERING.
    considering_min_engagement_seconds: int = 30
    considering_min_page_views: int = 3


@dataclass(frozen=True)
class AttributionConfig:
    lookback_days: int = 30
    lookback_days_by_conversion: tuple[tuple[str, int], ...] = ()  # (conversion_type, days) overrides
    half_life_days: float = 7.0
    position_first_weight: float = 0.4
    position_last_weight: float = 0.4
    markov_order: int = 1
    shapley_max_channels: int = 12  # rarer channels are bucketed into "Other" so 2^n stays bounded


@dataclass(frozen=True)
class AbandonmentConfig:
    cost_penalty_rate: float = 0.15
    state_weights: tuple[tuple[str, float], ...] = (
        ("UNAWARE", 0.1),
        ("AWARE", 0.2),
        ("CONSIDERING", 0.5),
        ("INTENT", 0.8),
        ("CONVERTED", 0.0),
    )
    reason_multipliers: tuple[tuple[str, float], ...] = (
        ("timed_out", 1.0),
        ("inactive", 1.0),
        ("competitor", 1.5),
        ("budget", 0.6),
        ("fatigue", 0.7),
        ("manual", 0.3),
    )
    time_factor_per_day: float = 0.01  # time factor = 1 + days_active * this
    fatigue_min_impressions: int = 10
    manual_journey_ids: tuple[str, ...] = ()
    default_conversion_value: float = 50.0  # expected order value where history has none
    # Conversion model: additive smoothing (pseudo-journeys) of each bucket toward its state's rate, and of each
    # state toward the overall rate; the overall rate is smoothed toward this prior.
    conversion_smoothing_alpha: float = 5.0
    prior_conversion_rate: float = 0.05


@dataclass(frozen=True)
class BackendConfig:
    # Empty jdbc_url: read the generated backend files under the sample dir instead.
    jdbc_url: str = ""
    user: str = "journeylake"
    # The password: this environment variable, else this alias in the Hadoop credential providers (on Dataproc, a
    # Secret Manager secret; see journeylake.io.secrets); never from a config file or the URL.
    password_env: str = "JOURNEYLAKE_DB_PASSWORD"
    password_secret: str = "journeylake-db-password"
    num_partitions: int = 4
    fetch_size: int = 10000


@dataclass(frozen=True)
class BigQueryConfig:
    enabled: bool = False  # publishing is an optional final stage of run_pipeline
    project: str = ""
    dataset: str = "journeylake"
    location: str = "US"
    staging_uri: str = ""  # gs://bucket/prefix
    api_endpoint: str = ""  # set for the local emulator
    # Emulator only: local folder standing in for gs:// (the emulator's BQEMU_GCS_LOCAL_ROOT); empty in production.
    staging_local_root: str = ""
    tables: tuple[str, ...] = ()  # tables to publish; empty: every registered table found in the lake
    write_modes: tuple[tuple[str, str], ...] = ()  # (table, "merge" | "truncate") overrides of the registry


@dataclass(frozen=True)
class ValidationConfig:
    enabled: bool = True
    suites_dir: str = ""  # folder of <layer>.<table>.json domain suites; default: the packaged expectations/
    report_dir: str = ""  # Data Docs and summary-<run>.json; default: <lake>/reports/expectations


@dataclass(frozen=True)
class ReportConfig:
    enabled: bool = True  # run_pipeline writes the run report after the last stage
    out_dir: str = ""  # the run report (index.html with charts, summary.json); default: <lake>/reports/run


@dataclass(frozen=True)
class SparkConfig:
    master: str = "local[*]"
    shuffle_partitions: int = 0  # 0: two per core for local runs
    driver_memory: str = "4g"
    # Extra Spark settings, e.g. the Hadoop connector of an object store ("spark.hadoop.fs.gs.auth.type" = ...).
    # spark.hadoop.* keys also reach a session that is already running (a platform's, or a notebook's).
    conf: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class PipelineConfig:
    lake: LakeConfig = field(default_factory=LakeConfig)
    input: InputConfig = field(default_factory=InputConfig)
    ingest: IngestConfig = field(default_factory=IngestConfig)
    identity: IdentityConfig = field(default_factory=IdentityConfig)
    session: SessionConfig = field(default_factory=SessionConfig)
    journey: JourneyConfig = field(default_factory=JourneyConfig)
    attribution: AttributionConfig = field(default_factory=AttributionConfig)
    abandonment: AbandonmentConfig = field(default_factory=AbandonmentConfig)
    backend: BackendConfig = field(default_factory=BackendConfig)
    bigquery: BigQueryConfig = field(default_factory=BigQueryConfig)
    validation: ValidationConfig = field(default_factory=ValidationConfig)
    report: ReportConfig = field(default_factory=ReportConfig)
    spark: SparkConfig = field(default_factory=SparkConfig)


_T = TypeVar("_T")


def _build(cls: type[_T], values: dict[str, Any], where: str) -> _T:
    """Build dataclass ``cls`` from a TOML table, rejecting unknown keys."""
    known = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ConfigError(f"unknown config key(s) in [{where}]: {', '.join(unknown)}")
    kwargs: dict[str, Any] = {}
    for name, value in values.items():
        default = getattr(cls(), name)
        if dataclasses.is_dataclass(default):
            kwargs[name] = _build(type(default), value, f"{where}.{name}" if where else name)
        elif isinstance(default, tuple):
            kwargs[name] = _as_tuple(value)
        else:
            kwargs[name] = value
    return cls(**kwargs)


def _as_tuple(value: Any) -> tuple[Any, ...]:
    """TOML arrays and tables become tuples (hashable, frozen); tables become (key, value) pairs."""
    if isinstance(value, dict):
        return tuple((k, v) for k, v in value.items())
    return tuple(tuple(v) if isinstance(v, list) else v for v in value)


def load_config(path: str | Path | None = None) -> PipelineConfig:
    """Load ``path`` (default ``conf/default.toml``); missing keys keep their defaults."""
    if not path:
        return validate_config(_build(PipelineConfig, tomllib.loads(DEFAULT_CONFIG.read_text()), ""))
    config_path = Path(path)
    if not config_path.exists():
        raise ConfigError(f"config file not found: {config_path}")
    with config_path.open("rb") as handle:
        try:
            document = tomllib.load(handle)
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(f"{config_path}: not valid TOML: {error}") from error
    return validate_config(_build(PipelineConfig, document, ""))


def with_overrides(config: PipelineConfig, **overrides: Any) -> PipelineConfig:
    """Return ``config`` with dotted-path overrides applied, ignoring None values.

    ``with_overrides(cfg, **{"lake.root": "/tmp/lake"})``
    """
    for dotted, value in overrides.items():
        if value is None:
            continue
        section_name, _, key = dotted.partition(".")
        section = getattr(config, section_name)
        config = dataclasses.replace(config, **{section_name: dataclasses.replace(section, **{key: value})})
    return validate_config(config)


_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def validate_identifier(value: str, what: str) -> str:
    """Reject names that would be interpolated into SQL or paths unless they are plain identifiers."""
    if not _IDENTIFIER.match(value):
        raise ConfigError(f"invalid {what} {value!r}: only letters, digits and underscores are allowed")
    return value


_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]{0,127}$")
# A password in the URL (query parameter or user:password@host) would sit in config files and logs.
_SECRET_IN_URL = re.compile(r"(?i)(password|passwd|pwd)\s*=|//[^/@?#]*:[^/@?#]*@")


def validate_config(config: PipelineConfig) -> PipelineConfig:
    """Reject values that would carry a secret or break out of where they are used; returns ``config``.

    Names of environment variables must be plain names; the JDBC URL must not hold a password (it comes
    only from ``backend.password_env``); dates must be ISO dates. Names that end up in SQL or table paths
    are checked where they are used (:func:`validate_identifier`, ``journeylake.io.delta.table_path``).
    """
    for what, name in (
        ("ingest.pii_salt_env", config.ingest.pii_salt_env),
        ("backend.password_env", config.backend.password_env),
    ):
        if not _ENV_NAME.match(name):
            raise ConfigError(f"invalid {what} {name!r}: expected an environment variable name such as MY_SECRET")
    url = config.backend.jdbc_url
    if url and not url.startswith("jdbc:"):
        raise ConfigError(f"invalid backend.jdbc_url: expected jdbc:<driver>://..., got {url.split(':')[0]!r}...")
    if _SECRET_IN_URL.search(url):
        raise ConfigError(
            "backend.jdbc_url must not contain a password; set the variable named by backend.password_env instead"
        )
    for what, text in (
        ("ingest.min_event_date", config.ingest.min_event_date),
        ("ingest.from_date", config.ingest.from_date),
        ("ingest.to_date", config.ingest.to_date),
    ):
        if text and not _ISO_DATE.match(text):
            raise ConfigError(f"invalid {what} {text!r}: expected an ISO date YYYY-MM-DD")
    return config
