"""Settings shared by every service (prefix ``SEXTANT_``) and the base for per-service ones.

The well-known variables ``DATABASE_URL``, ``KAFKA_BOOTSTRAP_SERVERS`` and ``S3_ENDPOINT_URL``
are honoured as they are, because operators and CI set them for everything at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class RuntimeSettings(BaseSettings):
    """What the spine needs: database, bus, object store, keys, logging."""

    model_config = SettingsConfigDict(env_prefix="SEXTANT_", extra="ignore")

    data_dir: Path = Field(
        default=Path(".data"),
        description="where the embedded mode keeps PostgreSQL, keys and objects (the folder "
        "object store too, when S3 is not set)",
    )
    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("SEXTANT_DATABASE_URL", "DATABASE_URL"),
        description="owner (migration) connection; the app connects as a per-service role",
    )
    app_role_password: SecretStr = Field(
        default=SecretStr("sextant-app"),
        description="password of the per-service application roles the runtime creates",
    )
    db_pool_size: int = Field(
        default=5,
        description="connections a service keeps to PostgreSQL (as many more may open under load)",
    )
    migrate_on_start: bool = Field(
        default=True,
        description="a service brings its schema to head as it starts; false when "
        "`sextant migrate` runs first as a separate step",
    )

    bus: Literal["local", "kafka"] = Field(
        default="local",
        description="the event bus: local (tables in PostgreSQL, the embedded mode) or kafka",
    )
    kafka_bootstrap_servers: str | None = Field(
        default=None,
        validation_alias=AliasChoices("SEXTANT_KAFKA_BOOTSTRAP_SERVERS", "KAFKA_BOOTSTRAP_SERVERS"),
        description="host:port of the Kafka brokers, comma-separated; needed when bus=kafka",
    )
    kafka_enable_idempotence: bool = Field(
        default=False, description="true on real Kafka; tansu 0.6 rejects idempotent producers"
    )
    kafka_create_topics: bool = Field(
        default=True,
        description="a service on the Kafka bus creates the registered topics and their DLQs "
        "that are missing, with SEXTANT_KAFKA_PARTITIONS; false where services may not "
        "create topics (then `sextant topics create` does, once). Either way a service "
        "refuses to start while a topic is missing or has fewer partitions",
    )
    kafka_partitions: int | None = Field(
        default=None,
        ge=1,
        description="partitions of every topic and DLQ; unset: the topic registry's (12). "
        "Consumer replicas of a service beyond this count stay idle",
    )
    kafka_replication_factor: int = Field(
        default=1,
        ge=1,
        description="copies of each partition for the topics Sextant creates; 3 on a "
        "production cluster (1 suits a single dev broker)",
    )
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT",
        description="how clients talk to the brokers: PLAINTEXT, SSL (TLS), SASL_PLAINTEXT "
        "or SASL_SSL (SASL over TLS, e.g. MSK, Confluent Cloud)",
    )
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = Field(
        default=None, description="the SASL mechanism; needed when the protocol is SASL_*"
    )
    kafka_sasl_username: str | None = Field(default=None, description="the SASL user")
    kafka_sasl_password: SecretStr | None = Field(
        default=None, description="the SASL user's password"
    )
    kafka_ssl_cafile: Path | None = Field(
        default=None,
        description="PEM bundle of the CAs that sign the brokers' certificates (SSL, "
        "SASL_SSL); unset: the system's",
    )
    consumer_max_attempts: int = Field(
        default=5,
        ge=1,
        description="tries of a failing event handler before its record goes to the DLQ",
    )
    consumer_backoff_seconds: float = Field(
        default=0.2, gt=0, description="first wait between tries; doubles each try, up to 10 s"
    )
    local_bus_partitions: int = Field(
        default=8,
        ge=1,
        description="partitions of every topic on the local bus: at most this many replicas "
        "of a service consume at once; every service of one deployment must agree",
    )
    local_bus_retention_days: float = Field(
        default=7, gt=0, description="days the local bus keeps a record (Kafka's default)"
    )
    inbox_retention_days: float | None = Field(
        default=None,
        gt=0,
        description="days a consumer remembers the ids of events it processed; unset: the "
        "longest retention of the topics it consumes (their contract's, or the local bus's "
        "when shorter), so anything the bus can redeliver is still refused by the inbox",
    )
    inbox_prune_every_seconds: float = Field(
        default=600, gt=0, description="how often a consumer prunes its inbox"
    )
    inbox_prune_batch_size: int = Field(
        default=1000, ge=1, description="inbox rows deleted per statement (one short transaction)"
    )

    s3_endpoint_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("SEXTANT_S3_ENDPOINT_URL", "S3_ENDPOINT_URL"),
        description="S3 endpoint for archives and reports; unset: a folder under the data dir",
    )
    s3_bucket: str = Field(default="sextant", description="the S3 bucket objects go to")
    s3_region: str = Field(default="us-east-1", description="the S3 bucket's region")

    internal_token_public_key: str | None = Field(
        default=None,
        description="PEM of the gateway's Ed25519 key that signs internal tokens; "
        "during a rotation the new and the old PEMs one after the other (both verify)",
    )
    internal_token_private_key: SecretStr | None = Field(
        default=None, description="PEM of that key's private half; only the gateway holds it"
    )

    log_level: str = Field(default="INFO", description="DEBUG, INFO, WARNING or ERROR")
    log_json: bool = Field(
        default=True, description="one JSON object a line; false: readable lines for a person"
    )

    tracing_otlp_endpoint: str | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "SEXTANT_TRACING_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"
        ),
        description="base URL of an OpenTelemetry collector (OTLP over http/protobuf; "
        "spans go to its /v1/traces), e.g. http://127.0.0.1:4318; unset: no tracing, "
        "and no cost (sextant.runtime.tracing)",
    )
    tracing_sample_ratio: float = Field(
        default=1.0,
        ge=0,
        le=1,
        description="share of new traces recorded when tracing is on; a trace begun by a "
        "caller keeps the caller's decision",
    )

    egress_allow: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="hosts a tenant's URLs may reach although private (on-premise GitLab, "
        "Jira Data Center), comma-separated: names, addresses or networks, each with an "
        "optional port (gitlab.corp.example, jira.corp.example:8443, 10.20.0.0/16, "
        "[fd00::5]:8443); empty: public addresses only (sextant.runtime.egress)",
    )
    egress_allow_http: bool = Field(
        default=False,
        description="let a tenant's URLs use plain http, to hosts on SEXTANT_EGRESS_ALLOW only",
    )

    @field_validator("egress_allow", mode="before")
    @classmethod
    def _split_egress_allow(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [entry.strip() for entry in value.split(",") if entry.strip()]
        return value

    @field_validator("egress_allow")
    @classmethod
    def _check_egress_allow(cls, value: list[str]) -> list[str]:
        from sextant.runtime.egress import Allowed  # egress reads these settings back

        for entry in value:
            Allowed.parse(entry)  # a typo fails the start, not a tenant's backfill
        return value

    @model_validator(mode="after")
    def _check_kafka_sasl(self) -> RuntimeSettings:
        if self.kafka_security_protocol.startswith("SASL_") and not (
            self.kafka_sasl_mechanism and self.kafka_sasl_username and self.kafka_sasl_password
        ):
            raise ValueError(
                f"SEXTANT_KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} needs "
                "SEXTANT_KAFKA_SASL_MECHANISM, SEXTANT_KAFKA_SASL_USERNAME and "
                "SEXTANT_KAFKA_SASL_PASSWORD"
            )
        return self

    def kafka_client_options(self) -> dict[str, Any]:
        """The security options every Kafka client (producer, consumers, admin) takes."""
        options: dict[str, Any] = {"security_protocol": self.kafka_security_protocol}
        if self.kafka_security_protocol in ("SSL", "SASL_SSL"):
            from aiokafka.helpers import create_ssl_context

            cafile = str(self.kafka_ssl_cafile) if self.kafka_ssl_cafile else None
            options["ssl_context"] = create_ssl_context(cafile=cafile)
        if self.kafka_security_protocol.startswith("SASL_"):
            password = self.kafka_sasl_password
            options |= {
                "sasl_mechanism": self.kafka_sasl_mechanism,
                "sasl_plain_username": self.kafka_sasl_username,
                "sasl_plain_password": password.get_secret_value() if password else None,
            }
        return options


class ServiceSettings(BaseSettings):
    """Base of a service's own settings; subclasses set ``env_prefix=SEXTANT_<SERVICE>_``."""

    model_config = SettingsConfigDict(extra="ignore")
