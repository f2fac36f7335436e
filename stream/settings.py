"""The one settings object: every knob Sway reads from the environment, parsed and frozen once."""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, BeforeValidator, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from stream.core.params import Params, params_from

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")


def parse_duration(value: object) -> float:
    """'30d', '60s', '1.5h', '250ms' or a bare number of seconds -> seconds."""
    if isinstance(value, int | float):
        return float(value)
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(f"not a duration: {value!r} (use e.g. 30d, 7d, 60s, 500ms)")
    number, unit = match.groups()
    return float(number) * _UNITS[unit or "s"]


Duration = Annotated[float, BeforeValidator(parse_duration)]

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Environment variables of docs/contract.md; names are the variables, values are parsed."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    kafka_bootstrap_servers: str = Field(
        "localhost:9092", validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS")
    )
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", validation_alias=AliasChoices("KAFKA_SECURITY_PROTOCOL")
    )
    kafka_sasl_mechanism: str = Field("PLAIN", validation_alias=AliasChoices("KAFKA_SASL_MECHANISM"))
    kafka_sasl_username: str = Field("", validation_alias=AliasChoices("KAFKA_SASL_USERNAME"))
    kafka_sasl_password: SecretStr = Field(
        SecretStr(""), validation_alias=AliasChoices("KAFKA_SASL_PASSWORD")
    )

    topic_prefix: str = Field("", validation_alias=AliasChoices("SWAY_TOPIC_PREFIX"))
    partitions: int = Field(8, ge=1, validation_alias=AliasChoices("SWAY_PARTITIONS"))
    web_host: str = Field("127.0.0.1", validation_alias=AliasChoices("SWAY_WEB_HOST"))
    web_port: int = Field(6066, validation_alias=AliasChoices("SWAY_WEB_PORT"))
    #: Where the HTTP server listens; empty: SWAY_WEB_HOST. A container binds 0.0.0.0 while it
    #: advertises its own name to the other workers (SWAY_WEB_HOST, used for request routing).
    web_bind: str = Field("", validation_alias=AliasChoices("SWAY_WEB_BIND"))
    admin_token: SecretStr = Field(SecretStr(""), validation_alias=AliasChoices("SWAY_ADMIN_TOKEN"))
    store: Literal["memory", "rocksdb"] = Field("memory", validation_alias=AliasChoices("SWAY_STORE"))
    data_dir: Path = Field(PROJECT_ROOT / ".run", validation_alias=AliasChoices("SWAY_DATA_DIR"))

    decay_half_life: Duration = Field(
        30 * 86400.0, ge=1.0, validation_alias=AliasChoices("SWAY_DECAY_HALF_LIFE")
    )
    decay_grace: Duration = Field(7 * 86400.0, ge=0, validation_alias=AliasChoices("SWAY_DECAY_GRACE"))
    decay_sweep_interval: Duration = Field(
        60.0, ge=0.1, validation_alias=AliasChoices("SWAY_DECAY_SWEEP_INTERVAL")
    )
    dedup_horizon: Duration = Field(3600.0, validation_alias=AliasChoices("SWAY_DEDUP_HORIZON"))
    max_future: Duration = Field(86400.0, validation_alias=AliasChoices("SWAY_MAX_FUTURE"))
    emit_min_delta: float = Field(0.01, ge=0, validation_alias=AliasChoices("SWAY_EMIT_MIN_DELTA"))
    log_level: str = Field("warn", validation_alias=AliasChoices("SWAY_LOG_LEVEL"))
    network_weights: str = Field(
        "",
        validation_alias=AliasChoices("SWAY_NETWORK_WEIGHTS"),
        description="overrides, e.g. 'youtube=1.2,tiktok=0.8'; unknown networks weigh 1.0",
    )

    def model_params(self) -> Params:
        """The scoring core's parameters: built-in constants plus what the environment sets."""
        return params_from(
            self.decay_half_life, self.decay_grace, self.dedup_horizon, self.network_weight_overrides()
        )

    def network_weight_overrides(self) -> dict[str, float]:
        """'youtube=1.2, tiktok=0.8' -> {'youtube': 1.2, 'tiktok': 0.8}; a malformed pair is an error."""
        out: dict[str, float] = {}
        for pair in filter(None, (p.strip() for p in self.network_weights.split(","))):
            name, sep, value = pair.partition("=")
            if not sep or not name.strip():
                raise ValueError(f"SWAY_NETWORK_WEIGHTS: expected network=weight, got {pair!r}")
            weight = float(value)
            if weight < 0:
                raise ValueError(f"SWAY_NETWORK_WEIGHTS: negative weight for {name.strip()!r}")
            out[name.strip().lower()] = weight
        return out

    def topic(self, name: str) -> str:
        """Full topic name, with the deployment's prefix."""
        return f"{self.topic_prefix}{name}"

    @cached_property
    def app_id(self) -> str:
        """Consumer group and prefix of changelog topics; the topic prefix keeps deployments apart."""
        return f"{self.topic_prefix}sway"

    @property
    def broker_url(self) -> str:
        return ",".join(f"kafka://{h.strip()}" for h in self.kafka_bootstrap_servers.split(","))

    @property
    def bootstrap_is_local_default(self) -> bool:
        """True when the cluster is the one `sway broker` manages on this machine."""
        return self.kafka_bootstrap_servers.strip() in {"localhost:9092", "127.0.0.1:9092"}


def load_settings(**overrides: object) -> Settings:
    """Read the environment once; tests pass overrides instead of mutating os.environ."""
    return Settings(**overrides)  # type: ignore[arg-type]
